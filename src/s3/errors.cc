#include "s3/errors.h"

#include "events/errc.h"
#include "http/server.h"
#include "iam/iam.h"
#include "objstore/object_layer.h"
#include "s3/auth/sigv4.h"

SLUICE_ERRC_CATEGORY(sluice::s3, "s3", default : break;)

namespace sluice::s3 {

namespace {

struct row {
  errc e;
  unsigned status;
  const char* code;
  const char* message;
};

// Codes and texts as AWS documents them (docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html).
constexpr row kRows[] = {
    {errc::access_denied, 403, "AccessDenied", "Access Denied."},
    {errc::bad_digest, 400, "BadDigest", "The Content-MD5 you specified did not match what we received."},
    {errc::bucket_already_exists, 409, "BucketAlreadyExists",
     "The requested bucket name is not available. The bucket namespace is shared by all users of the system. "
     "Please select a different name and try again."},
    {errc::bucket_already_owned_by_you, 409, "BucketAlreadyOwnedByYou",
     "Your previous request to create the named bucket succeeded and you already own it."},
    {errc::entity_too_large, 400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed object size."},
    {errc::entity_too_small, 400, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed object size."},
    {errc::incomplete_body, 400, "IncompleteBody", "You did not provide the number of bytes specified by the Content-Length HTTP header."},
    {errc::internal_error, 500, "InternalError", "We encountered an internal error, please try again."},
    {errc::invalid_argument, 400, "InvalidArgument", "Invalid argument."},
    {errc::invalid_bucket_name, 400, "InvalidBucketName", "The specified bucket is not valid."},
    {errc::invalid_digest, 400, "InvalidDigest", "The Content-MD5 you specified is not valid."},
    {errc::invalid_part, 400, "InvalidPart",
     "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified "
     "entity tag may not match the part's entity tag."},
    {errc::invalid_range, 416, "InvalidRange", "The requested range is not satisfiable"},
    {errc::invalid_request, 400, "InvalidRequest", "Invalid Request"},
    {errc::invalid_tag, 400, "InvalidTag", "The tag provided was not a valid tag."},
    {errc::key_too_long, 400, "KeyTooLongError", "Your key is too long"},
    {errc::malformed_xml, 400, "MalformedXML",
     "The XML you provided was not well-formed or did not validate against our published schema."},
    {errc::malformed_post_request, 400, "MalformedPOSTRequest",
     "The body of your POST request is not well-formed multipart/form-data."},
    {errc::metadata_too_large, 400, "MetadataTooLarge", "Your metadata headers exceed the maximum allowed metadata size."},
    {errc::method_not_allowed, 405, "MethodNotAllowed", "The specified method is not allowed against this resource."},
    {errc::missing_content_length, 411, "MissingContentLength", "You must provide the Content-Length HTTP header."},
    {errc::no_such_bucket, 404, "NoSuchBucket", "The specified bucket does not exist"},
    {errc::no_such_key, 404, "NoSuchKey", "The specified key does not exist."},
    {errc::no_such_upload, 404, "NoSuchUpload",
     "The specified multipart upload does not exist. The upload ID may be invalid, or the upload may have been "
     "aborted or completed."},
    {errc::no_such_version, 404, "NoSuchVersion", "The specified version does not exist."},
    {errc::no_such_bucket_policy, 404, "NoSuchBucketPolicy", "The bucket policy does not exist"},
    {errc::no_such_lifecycle_configuration, 404, "NoSuchLifecycleConfiguration", "The lifecycle configuration does not exist"},
    {errc::no_such_cors_configuration, 404, "NoSuchCORSConfiguration", "The CORS configuration does not exist"},
    {errc::no_such_tag_set, 404, "NoSuchTagSet", "The TagSet does not exist"},
    {errc::server_side_encryption_configuration_not_found, 404, "ServerSideEncryptionConfigurationNotFoundError",
     "The server side encryption configuration was not found"},
    {errc::object_lock_configuration_not_found, 404, "ObjectLockConfigurationNotFoundError",
     "Object Lock configuration does not exist for this bucket"},
    {errc::no_such_website_configuration, 404, "NoSuchWebsiteConfiguration", "The specified bucket does not have a website configuration"},
    {errc::replication_configuration_not_found, 404, "ReplicationConfigurationNotFoundError",
     "The replication configuration was not found"},
    {errc::not_implemented, 501, "NotImplemented", "A header you provided implies functionality that is not implemented."},
    {errc::not_modified, 304, "NotModified", "Not Modified"},
    {errc::precondition_failed, 412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold"},
    {errc::invalid_object_name, 400, "XMinioInvalidObjectName", "Object name contains unsupported characters."},
    {errc::invalid_copy_source, 400, "InvalidArgument", "Copy Source must mention the source bucket and key: sourcebucket/sourcekey."},
    {errc::invalid_max_keys, 400, "InvalidArgument", "Argument maxKeys must be an integer between 0 and 2147483647"},
    {errc::request_timeout, 400, "RequestTimeout",
     "Your socket connection to the server was not read from or written to within the timeout period."},
    {errc::slow_down, 503, "SlowDown", "Please reduce your request rate."},
    {errc::invalid_policy_document, 400, "InvalidPolicyDocument", "The content of the form does not meet the conditions specified in the policy document."},
    {errc::malformed_policy, 400, "MalformedPolicy", "Policy has invalid resource."},
    {errc::invalid_storage_class, 400, "InvalidStorageClass", "The storage class you specified is not valid."},
    {errc::admin_invalid_argument, 400, "XSluiceAdminInvalidArgument", "Invalid argument."},
};

api_error from_row(errc e, const std::string& detail) {
  for (const auto& r : kRows) {
    if (r.e == e) return {r.status, r.code, detail.empty() ? r.message : detail};
  }
  return {500, "InternalError", "We encountered an internal error, please try again."};
}

api_error from_objstore(objstore::errc e, const std::string& detail) {
  using o = objstore::errc;
  switch (e) {
    case o::bucket_not_found: return from_row(errc::no_such_bucket, "");
    case o::bucket_exists: return from_row(errc::bucket_already_owned_by_you, "");
    case o::bucket_not_empty:
      return {409, "BucketNotEmpty", "The bucket you tried to delete is not empty"};
    case o::invalid_bucket_name: return from_row(errc::invalid_bucket_name, "");
    case o::object_not_found: return from_row(errc::no_such_key, "");
    case o::version_not_found: return from_row(errc::no_such_version, "");
    case o::invalid_object_name:
      return {400, "XMinioInvalidObjectName", "Object name contains unsupported characters: " + detail};
    case o::object_too_large: return from_row(errc::entity_too_large, "");
    case o::upload_not_found: return from_row(errc::no_such_upload, "");
    case o::invalid_part: return from_row(errc::invalid_part, "");
    case o::invalid_part_order:
      return {400, "InvalidPartOrder", "The list of parts was not in ascending order. The parts list must be specified in order by part number."};
    case o::entity_too_small: return from_row(errc::entity_too_small, "");
    case o::invalid_range: return from_row(errc::invalid_range, "");
    case o::method_not_allowed: return from_row(errc::method_not_allowed, "");
    case o::bad_argument: return from_row(errc::incomplete_body, "");
    case o::too_many_uploads: return from_row(errc::slow_down, "");
    case o::read_quorum:
      return {503, "XMinioReadQuorum", "Multiple disk failures, unable to reconstruct data." +
                                           (detail.empty() ? std::string() : " " + detail)};
    case o::write_quorum:
      return {503, "XMinioWriteQuorum", "Multiple disk failures, unable to write data." +
                                            (detail.empty() ? std::string() : " " + detail)};
    case o::not_implemented:
      return {
          501, "NotImplemented",
          detail.empty() ? "A header you provided implies functionality that is not implemented" : detail};
    case o::heal_in_progress:
      return {409, "XSluiceHealAlreadyRunning",
              "A heal is already running; wait for it to finish." +
                  (detail.empty() ? std::string() : " " + detail)};
    case o::io_error:
    case o::corrupt: return {500, "InternalError", "We encountered an internal error, please try again."};
  }
  return from_row(errc::internal_error, "");
}

api_error from_auth(auth::errc e, const std::string& detail) {
  using a = auth::errc;
  switch (e) {
    case a::missing_security_header: return from_row(errc::access_denied, "");
    case a::authorization_header_malformed:
    case a::bad_region:
      return {400, "AuthorizationHeaderMalformed",
              detail.empty() ? "The authorization header is malformed." : detail};
    case a::authorization_query_malformed:
      return {400, "AuthorizationQueryParametersError",
              detail.empty() ? "Error parsing the X-Amz-Credential parameter." : detail};
    case a::unsupported_algorithm:
      return {400, "SignatureVersionNotSupported", "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256."};
    case a::invalid_access_key:
      return {403, "InvalidAccessKeyId", "The Access Key Id you provided does not exist in our records."};
    case a::signature_mismatch:
    case a::chunk_signature_mismatch:
      return {403, "SignatureDoesNotMatch",
              "The request signature we calculated does not match the signature you provided. Check your key and signing method."};
    case a::request_expired: return {403, "AccessDenied", "Request has expired"};
    case a::request_not_yet_valid: return {403, "AccessDenied", "Request is not valid yet"};
    case a::time_skewed:
      return {403, "RequestTimeTooSkewed", "The difference between the request time and the server's time is too large."};
    case a::missing_date:
      return {400, "AccessDenied", "AWS authentication requires a valid Date or x-amz-date header"};
    case a::content_sha256_mismatch:
      return {400, "XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed."};
    case a::invalid_content_sha256:
      return {400, "InvalidArgument", "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, a streaming mode, or a valid sha256 value."};
    case a::chunk_malformed:
    case a::incomplete_body: return from_row(errc::incomplete_body, detail);
    case a::checksum_mismatch:
      return {400, "BadDigest", detail.empty() ? "The checksum you specified did not match what we received." : detail};
    case a::checksum_invalid:
      return {400, "InvalidRequest", detail.empty() ? "Value for x-amz-checksum header is invalid." : detail};
    case a::content_md5_mismatch: return from_row(errc::bad_digest, "");
    case a::content_md5_invalid: return from_row(errc::invalid_digest, "");
    case a::policy_malformed: return from_row(errc::malformed_post_request, detail);
    case a::policy_violation:
      return {403, "AccessDenied", detail.empty() ? "Invalid according to Policy: Policy Condition failed" : detail};
  }
  return from_row(errc::internal_error, "");
}

// Bucket notification errors with MinIO's codes and texts (cmd/api-errors.go).
api_error from_events(events::errc e, const error& err) {
  using v = events::errc;
  auto invalid = [](const char* message) { return api_error{400, "InvalidArgument", message}; };
  switch (e) {
    case v::malformed_xml: return from_row(errc::malformed_xml, "");
    case v::arn_not_found:
      return invalid(
          "A specified destination ARN does not exist or is not well-formed. Verify the destination ARN.");
    case v::arn_wrong_region:
      return invalid(
          "A specified destination is in a different region than the bucket. You must use a destination that "
          "resides in the same region as the bucket.");
    case v::unsupported_event: return invalid("A specified event is not supported for notifications.");
    case v::filter_name_invalid: return invalid("filter rule name must be either prefix or suffix");
    case v::filter_value_invalid:
      return invalid("Size of filter rule value cannot exceed 1024 bytes in UTF-8 representation");
    case v::filter_duplicate_prefix: return invalid("Cannot specify more than one prefix rule in a filter.");
    case v::filter_duplicate_suffix: return invalid("Cannot specify more than one suffix rule in a filter.");
    case v::overlap_events:
      return invalid(
          "Configurations overlap. Configurations on the same bucket cannot share a common event type.");
    case v::overlap_filters:
      return invalid(
          "An object key name filtering rule defined with overlapping prefixes, overlapping suffixes, or "
          "overlapping combinations of prefixes and suffixes for the same event types.");
    case v::unsupported_notification:
      return {400, "UnsupportedNotification",
              "server does not support Topic or Cloud Function based notifications."};
    case v::invalid_argument: return from_row(errc::invalid_argument, err.detail());
    // The outbox is at its limit: nothing was done, the client backs off and retries.
    case v::outbox_full: return from_row(errc::slow_down, "");
    case v::closed: return {503, "ServiceUnavailable", "The server is stopping; please retry."};
    case v::bad_config: return {400, "XSluiceAdminInvalidArgument", err.message()};
    case v::unknown_target: return {404, "XSluiceAdminNoSuchTarget", err.message()};
    case v::target_error: return {502, "XSluiceAdminTargetError", err.message()};
    case v::io_error: break;
  }
  return from_row(errc::internal_error, "");
}

}  // namespace

api_error to_api_error(const error& e) {
  const auto& c = e.code();
  if (c.category() == category()) return from_row(static_cast<errc>(c.value()), e.detail());
  if (c.category() == objstore::category()) return from_objstore(static_cast<objstore::errc>(c.value()), e.detail());
  if (c.category() == auth::category()) return from_auth(static_cast<auth::errc>(c.value()), e.detail());
  if (c.category() == events::category()) return from_events(static_cast<events::errc>(c.value()), e);
  if (c.category() == http::category()) {
    switch (static_cast<http::errc>(c.value())) {
      case http::errc::timeout: return from_row(errc::request_timeout, "");
      case http::errc::body_too_large: return from_row(errc::entity_too_large, "");
      case http::errc::connection_closed:
      case http::errc::bad_body: return from_row(errc::incomplete_body, "");
      case http::errc::headers_already_sent:
      case http::errc::invalid_request:
        break;  // an outgoing request of ours: a bug or bad configuration
    }
  }
  if (c.category() == iam::category()) {
    switch (static_cast<iam::errc>(c.value())) {
      case iam::errc::no_such_user: return {404, "XSluiceAdminNoSuchUser", e.message()};
      case iam::errc::io_error: break;
      default: return {400, "XSluiceAdminInvalidArgument", e.message()};
    }
  }
  return from_row(errc::internal_error, "");
}

}  // namespace sluice::s3
