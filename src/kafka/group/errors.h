#pragma once
// Error codes of the group coordinator. The numeric values are Kafka's
// (clients/.../protocol/Errors.java), so a handler can cast them to the wire
// int16 or to the protocol's full enum unchanged. Most of them are answers
// carried in responses (per request, per member or per partition), not
// failures of the coordinator: `none` is success.
#include <cstdint>
#include <string_view>
#include <system_error>

#include "base/errc.h"

namespace sluice::kafka::group {

enum class errc : int16_t {
  none = 0,
  unknown_server_error = -1,
  unknown_topic_or_partition = 3,
  offset_metadata_too_large = 12,
  coordinator_not_available = 15,
  illegal_generation = 22,
  inconsistent_group_protocol = 23,
  invalid_group_id = 24,
  unknown_member_id = 25,
  invalid_session_timeout = 26,
  rebalance_in_progress = 27,
  invalid_request = 42,
  non_empty_group = 68,
  group_id_not_found = 69,
  member_id_required = 79,
  group_max_size_reached = 81,
  fenced_instance_id = 82,
  group_subscribed_to_topic = 86,
};

// Kafka's name, e.g. "REBALANCE_IN_PROGRESS".
std::string_view name(errc e);

const std::error_category& category();
inline std::error_code make_error_code(errc e) {
  return {static_cast<int>(e), category()};
}

}  // namespace sluice::kafka::group

SLUICE_ERRC_ENUM(sluice::kafka::group::errc)
