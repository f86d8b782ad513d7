#pragma once
// AWS Signature Version 2 verification, for older clients: `Authorization: AWS
// AK:signature` headers and presigned URLs (AWSAccessKeyId/Expires/Signature),
// which the aws cli v1 `s3 presign` and `s3cmd signurl` still produce.
// V2 does not sign the payload; Content-MD5, when sent, is verified by the
// payload verifier as for V4. Reference: docs.aws.amazon.com/AmazonS3/latest/userguide/RESTAuthentication.html
#include "s3/auth/sigv4.h"

namespace sluice::s3::auth {

// True when the request carries V2 credentials (header or query).
bool has_v2_credentials(const request_view& req);
result<verified_request> verify_v2(const request_view& req, const secret_lookup& secrets, sys_time now,
                                   const verify_options& opts);

// The V2 string to sign; `date` is the Date header (or Expires for presigned URLs).
// raw_path is the canonical resource path ("/bucket/key" as sent).
std::string v2_string_to_sign(const request_view& req, std::string_view date, std::string_view raw_path);

}  // namespace sluice::s3::auth
