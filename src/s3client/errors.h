#pragma once
// Errors of the S3 client. Every failed call returns one s3client::errc; the
// error's message names the S3 error code and text when the server sent one:
//   "NoSuchBucket: The specified bucket does not exist (HTTP 404, request id 17A...)"
// S3 XML error bodies are mapped to codes in exactly one place (classify()).
#include <string>
#include <string_view>

#include "base/errc.h"
#include "base/result.h"

namespace sluice::s3client {

enum class errc {
  no_such_key = 1,      // NoSuchKey; also a 404 without a body on HEAD object
  no_such_bucket,       // NoSuchBucket
  no_such_upload,       // NoSuchUpload
  access_denied,        // AccessDenied, AllAccessDisabled, other 403s
  invalid_credentials,  // InvalidAccessKeyId, SignatureDoesNotMatch
  invalid_range,        // InvalidRange (416)
  precondition_failed,  // PreconditionFailed (412)
  bucket_exists,        // BucketAlreadyExists, BucketAlreadyOwnedByYou
  slow_down,            // SlowDown, 503 SlowDown-like throttling (retried)
  unavailable,          // InternalError, ServiceUnavailable, 500/502/503/504 (retried)
  request_rejected,     // any other S3 error (InvalidArgument, EntityTooSmall, MalformedXML, ...)
  unknown_host,         // the endpoint's host name does not resolve
  connection_refused,   // nothing listens on the endpoint's port (retried)
  timeout,              // connect or a socket wait timed out, RequestTimeout (retried)
  network,              // connection reset or closed mid-exchange (retried)
  tls,                  // TLS handshake or certificate check failed
  bad_response,         // the server's HTTP or XML could not be understood
  response_too_large,   // a response body exceeded client_config::max_response_bytes
  invalid_argument,     // the call was rejected before sending (bad config, empty key, ...)
  pool_exhausted,       // no connection became free within client_config::acquire_timeout
};
const std::error_category& category();
inline std::error_code make_error_code(errc e) {
  return {static_cast<int>(e), category()};
}

// One S3 error response. Fields the body lacked are derived from the status
// (e.g. HEAD answers carry no body).
struct s3_error {
  unsigned status = 0;
  std::string code;     // "NoSuchKey"
  std::string message;  // server's <Message>
  std::string request_id;
  std::string resource;  // <Resource> or <Key>/<BucketName> when present
};

// Parses an <Error> document; an empty or non-XML body yields a code derived
// from the status ("NotFound", "Forbidden", ...). request_id_header is the
// x-amz-request-id response header, used when the body has none.
s3_error parse_error(unsigned status, std::string_view body, std::string_view request_id_header = {});
// The client error code for an S3 error (the one mapping place).
errc classify(const s3_error& e);
// classify() plus the message format documented above.
error to_error(const s3_error& e);
// True for errors worth another attempt: throttling, 5xx, timeouts, resets, refused connections.
bool is_retryable(const error& e);

}  // namespace sluice::s3client

SLUICE_ERRC_ENUM(sluice::s3client::errc)
