#pragma once
// The signed POST policy of a browser form upload (PostObject):
// docs.aws.amazon.com/AmazonS3/latest/API/sigv4-HTTPPOSTConstructPolicy.html.
// The policy is a base64 JSON document {"expiration": ISO 8601, "conditions":
// [...]}; each condition is {"field": "value"} (exact match), ["eq" |
// "starts-with", "$field", "value"], or ["content-length-range", min, max].
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "base/result.h"

namespace sluice::s3 {

// What a policy allows beyond its field conditions: the upload's size range.
struct post_policy_limits {
  uint64_t min_size = 0;
  uint64_t max_size = UINT64_MAX;
};

// Checks the policy (still base64) against the form's fields (names in lower
// case; "bucket" is the request's bucket) at time `now`. Errors:
// auth::errc::policy_malformed for a policy that is not one (not base64, not
// JSON, no expiration, a condition of an unknown form, a size range that is
// not two non-negative integers in order); auth::errc::policy_violation when
// it expired or a field does not meet a condition.
result<post_policy_limits> check_post_policy(std::string_view policy_b64,
                                             const std::map<std::string, std::string>& fields,
                                             const std::string& bucket,
                                             std::chrono::system_clock::time_point now);

}  // namespace sluice::s3
