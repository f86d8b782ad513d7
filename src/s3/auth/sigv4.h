#pragma once
// AWS Signature Version 4 verification for the S3 front end: Authorization
// header, presigned query strings, and the payload modes of
// x-amz-content-sha256 (literal hash, UNSIGNED-PAYLOAD, aws-chunked streaming
// with and without chunk signatures and trailers). Pure functions: no I/O,
// time passed in. Reference: docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-authenticating-requests.html
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/beast/http/fields.hpp>

#include "base/errc.h"
#include "base/result.h"
#include "base/time.h"

namespace sluice::s3::auth {

// Each maps to exactly one S3 error code (named in the comment) in s3/errors.cc.
enum class errc {
  missing_security_header = 1,  // AccessDenied ("no Authorization / presign")  -- anonymous handled by caller
  authorization_header_malformed,  // AuthorizationHeaderMalformed
  authorization_query_malformed,   // AuthorizationQueryParametersError
  unsupported_algorithm,           // SignatureVersionNotSupported / InvalidArgument
  invalid_access_key,              // InvalidAccessKeyId
  signature_mismatch,              // SignatureDoesNotMatch
  request_expired,                 // AccessDenied "Request has expired"
  request_not_yet_valid,           // AccessDenied "Request is not valid yet"
  time_skewed,                     // RequestTimeTooSkewed
  missing_date,                    // AccessDenied / MissingSecurityHeader
  bad_region,                      // AuthorizationHeaderMalformed (wrong region in scope)
  content_sha256_mismatch,         // XAmzContentSHA256Mismatch
  invalid_content_sha256,          // InvalidArgument (x-amz-content-sha256 value unknown)
  chunk_malformed,                 // IncompleteBody / InvalidChunkSizeError
  chunk_signature_mismatch,        // SignatureDoesNotMatch
  incomplete_body,                 // IncompleteBody
  checksum_mismatch,               // BadDigest ("The x-amz-checksum-* you specified did not match")
  checksum_invalid,                // InvalidRequest / InvalidArgument (bad checksum header)
  content_md5_mismatch,            // BadDigest
  content_md5_invalid,             // InvalidDigest
  policy_malformed,                // MalformedPOSTRequest / InvalidPolicyDocument
  policy_violation,                // AccessDenied (POST policy condition failed)
};
const std::error_category& category();
inline std::error_code make_error_code(errc e) { return {static_cast<int>(e), category()}; }

// Returns the secret key for an access key, or nullopt when unknown.
using secret_lookup = std::function<std::optional<std::string>(std::string_view access_key)>;

struct request_view {
  std::string_view method;     // "GET"
  std::string_view raw_path;   // path as sent, still percent-encoded, e.g. "/bucket/a%20b"
  std::string_view raw_query;  // query string as sent, without '?'
  const boost::beast::http::fields& headers;
};

struct verify_options {
  std::string region = "us-east-1";
  std::chrono::seconds max_skew{900};
  std::chrono::seconds max_presign_expiry{7 * 24 * 3600};
};

enum class payload_mode {
  signed_hash,                 // x-amz-content-sha256 is the hex SHA-256 of the body (verify while reading)
  unsigned_payload,            // UNSIGNED-PAYLOAD (and every presigned request)
  streaming_signed,            // STREAMING-AWS4-HMAC-SHA256-PAYLOAD
  streaming_signed_trailer,    // STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER
  streaming_unsigned_trailer,  // STREAMING-UNSIGNED-PAYLOAD-TRAILER
};

// What the chunk decoder needs to check chunk and trailer signatures.
struct signing_context {
  std::string signing_key;     // raw HMAC key derived for date/region/service
  std::string amz_date;        // "20130524T000000Z"
  std::string scope;           // "20130524/us-east-1/s3/aws4_request"
  std::string seed_signature;  // hex signature of the request headers
};

struct verified_request {
  std::string access_key;
  bool presigned = false;
  payload_mode mode = payload_mode::unsigned_payload;
  std::string payload_sha256;  // lower-case hex, for signed_hash
  signing_context signing;     // for the streaming modes
};

// True when the request carries SigV4 credentials (header or query); false = anonymous.
bool has_credentials(const request_view& req);
// Verifies a header-signed or presigned request.
result<verified_request> verify(const request_view& req, const secret_lookup& secrets, sys_time now,
                                const verify_options& opts);

// --- building blocks, exposed for tests and for signing (clients, bench tools) ---
std::string derive_signing_key(std::string_view secret, std::string_view date8, std::string_view region,
                               std::string_view service);
// Canonical request per the spec; signed_headers lower-case, ';'-separated.
std::string canonical_request(const request_view& req, std::string_view signed_headers,
                              std::string_view payload_hash, bool presigned);
std::string string_to_sign(std::string_view amz_date, std::string_view scope, std::string_view canonical);
// aws-chunked signatures, each chained from prev_signature (the seed signature
// for the first chunk, the final zero-size chunk's for the trailer): one
// chunk's data, and the trailer block ("name:value\n" per trailer, as sent).
std::string chunk_signature(const signing_context& ctx, std::string_view prev_signature, std::string_view chunk_data);
std::string trailer_signature(const signing_context& ctx, std::string_view prev_signature,
                              std::string_view canonical_trailers);

// Client side: signs a request, returning the headers to add (Authorization,
// x-amz-date, x-amz-content-sha256). Used by Sluice's own S3 client and tools.
struct sign_input {
  std::string method, raw_path, raw_query;
  std::vector<std::pair<std::string, std::string>> headers;  // must include host
  std::string payload_sha256;  // hex or "UNSIGNED-PAYLOAD"
  std::string access_key, secret_key, region = "us-east-1", service = "s3";
  sys_time now;
};
std::vector<std::pair<std::string, std::string>> sign(const sign_input& in);
// Client side: a presigned URL's query string (without '?') for method/path.
// The payload is always UNSIGNED-PAYLOAD (in.payload_sha256 is not used).
std::string presign_query(const sign_input& in, std::chrono::seconds expires);

}  // namespace sluice::s3::auth

SLUICE_ERRC_ENUM(sluice::s3::auth::errc)
