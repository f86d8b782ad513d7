// Fuzzes the POST policy check of browser form uploads (s3/post_policy.h).
// Input: a policy document (checked once base64-encoded, as forms carry it,
// and once as the raw form field). Invariant: a policy that passes gives a
// size range in order.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>

#include "base/encoding.h"
#include "s3/post_policy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::map<std::string, std::string> fields{
      {"key", "uploads/a.jpg"}, {"content-type", "image/jpeg"}, {"x-amz-meta-tag", "v"}};
  const auto now = std::chrono::system_clock::now();
  auto r = sluice::s3::check_post_policy(sluice::base64_encode(input), fields, "bucket", now);
  if (r && r.value().min_size > r.value().max_size) abort();
  (void)sluice::s3::check_post_policy(input, fields, "bucket", now);
  return 0;
}
