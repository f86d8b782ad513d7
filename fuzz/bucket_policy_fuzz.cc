// Fuzzes the bucket policy parser (PutBucketPolicy bodies, iam/policy.h) and
// the evaluation of what it accepts. Input: a policy document.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "iam/policy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto p = sluice::iam::parse_bucket_policy(input, "bucket");
  if (!p) return 0;
  for (std::string_view action : {"s3:GetObject", "s3:PutObject", "s3:ListBucket", "s3:DeleteObject"}) {
    (void)sluice::iam::allows_anonymous(p.value(), action, "arn:aws:s3:::bucket");
    (void)sluice::iam::allows_anonymous(p.value(), action, "arn:aws:s3:::bucket/a/b c");
    (void)sluice::iam::allows_anonymous(p.value(), action,
                                        "arn:aws:s3:::bucket/" + std::string(input.substr(0, 32)));
  }
  return 0;
}
