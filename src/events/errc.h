#pragma once
// Error codes of the events module (bucket notifications). s3/errors.cc maps
// them to S3 errors; the admin CLI prints their messages.
#include "base/errc.h"
#include "base/result.h"

namespace sluice::events {

enum class errc {
  invalid_argument = 1,  // a malformed request value (S3 InvalidArgument)
  malformed_xml,         // the NotificationConfiguration document does not parse (S3 MalformedXML)
  arn_not_found,         // a rule names a target ARN that is not configured / not well-formed
  arn_wrong_region,      // the ARN's region is not this server's region
  unsupported_event,     // an event name MinIO does not define for notifications
  filter_name_invalid,   // FilterRule Name other than prefix/suffix
  filter_value_invalid,  // bad prefix/suffix value
  filter_duplicate_prefix,
  filter_duplicate_suffix,
  overlap_events,        // the same event twice in one configuration
  overlap_filters,       // two identical configurations
  unsupported_notification,  // Topic / CloudFunction configurations
  outbox_full,           // the durable outbox is at its limit: the request is refused (S3 SlowDown, 503)
  io_error,              // the outbox could not be written or read
  closed,                // the notifier is stopping
  bad_config,            // a target's configuration is invalid (admin config set)
  unknown_target,        // admin: no such subsystem/target id
  target_error,          // a target refused or failed a delivery (retryable)
};
const std::error_category& category();
inline std::error_code make_error_code(errc e) { return {static_cast<int>(e), category()}; }

}  // namespace sluice::events
SLUICE_ERRC_ENUM(sluice::events::errc)
