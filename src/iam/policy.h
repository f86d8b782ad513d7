#pragma once
// Bucket policies (the AWS policy language subset S3 bucket policies use):
// statements with Effect Allow/Deny, Principal, Action and Resource with '*'
// and '?' wildcards. Today they grant anonymous access (e.g. public download
// of a bucket); a statement with a Condition is never treated as granting.
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "base/wildcard.h"

namespace sluice::iam {

struct statement {
  bool allow = true;
  bool any_principal = false;  // Principal "*" or {"AWS": "*"}
  std::vector<std::string> actions;
  std::vector<std::string> resources;
  bool has_condition = false;
};

struct bucket_policy {
  std::vector<statement> statements;
};

// Parses and validates a bucket policy for `bucket`: every resource must name
// the bucket (arn:aws:s3:::bucket or arn:aws:s3:::bucket/...). Errors use iam::errc::invalid_policy.
result<bucket_policy> parse_bucket_policy(std::string_view json, const std::string& bucket);

// Does the policy let an anonymous caller perform `action` ("s3:GetObject") on `resource`
// ("arn:aws:s3:::bucket/key" or "arn:aws:s3:::bucket")? Deny wins over Allow.
bool allows_anonymous(const bucket_policy& p, std::string_view action, std::string_view resource);

}  // namespace sluice::iam
