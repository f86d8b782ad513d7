#pragma once
// S3 wire errors. Every failure that reaches a client passes through
// to_api_error(), the one place where module error codes (objstore, auth,
// iam, http, events, config) become S3 error codes and HTTP statuses.
#include <string>
#include <string_view>

#include "base/errc.h"
#include "base/result.h"

namespace sluice::s3 {

// Errors raised by the S3 front end itself (request validation).
enum class errc {
  access_denied = 1,
  bad_digest,
  bucket_already_exists,
  bucket_already_owned_by_you,
  entity_too_large,
  entity_too_small,
  incomplete_body,
  internal_error,
  invalid_argument,
  invalid_bucket_name,
  invalid_digest,
  invalid_part,
  invalid_range,
  invalid_request,
  invalid_tag,
  key_too_long,
  malformed_xml,
  malformed_post_request,
  metadata_too_large,
  method_not_allowed,
  missing_content_length,
  no_such_bucket,
  no_such_key,
  no_such_upload,
  no_such_version,
  no_such_bucket_policy,
  no_such_lifecycle_configuration,
  no_such_cors_configuration,
  no_such_tag_set,
  server_side_encryption_configuration_not_found,
  object_lock_configuration_not_found,
  no_such_website_configuration,
  replication_configuration_not_found,
  not_implemented,
  not_modified,
  precondition_failed,
  invalid_object_name,
  invalid_copy_source,
  invalid_max_keys,
  request_timeout,
  slow_down,
  invalid_policy_document,
  malformed_policy,
  invalid_storage_class,
  admin_invalid_argument,
};
const std::error_category& category();
inline std::error_code make_error_code(errc e) { return {static_cast<int>(e), category()}; }

struct api_error {
  unsigned status = 500;
  std::string code;     // "NoSuchKey"
  std::string message;  // human text for <Message>
};

api_error to_api_error(const error& e);

}  // namespace sluice::s3

SLUICE_ERRC_ENUM(sluice::s3::errc)
