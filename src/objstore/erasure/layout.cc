#include "objstore/erasure/layout.h"

#include <isa-l/crc.h>

#include <charconv>
#include <cstddef>
#include <span>

#include "objstore/erasure/internal/siphash.h"

namespace sluice::objstore::erasure {

namespace {

constexpr int kMinSetSize = 2;
constexpr int kMaxSetSize = 16;
constexpr size_t kMaxExpansion = 65536;
constexpr size_t kMaxRangeDigits = 9;  // keeps N and M well inside uint64_t

// One piece of an ellipsis pattern: literal text, or a range of labels.
struct segment {
  std::string literal;
  std::vector<std::string> labels;  // empty for a literal
};

error bad_pattern(std::string_view pattern, std::string_view why) {
  return error(errc::bad_ellipsis,
               "invalid ellipsis pattern \"" + std::string(pattern) + "\": " + std::string(why));
}

bool all_digits(std::string_view s) {
  return !s.empty() && s.size() <= kMaxRangeDigits &&
         s.find_first_not_of("0123456789") == std::string_view::npos;
}

// "N...M" (the text between the braces) -> its labels.
result<std::vector<std::string>> parse_range(std::string_view pattern, std::string_view body) {
  const size_t dots = body.find("...");
  if (dots == std::string_view::npos) return fail(bad_pattern(pattern, "expected {N...M}"));
  const std::string_view lo = body.substr(0, dots), hi = body.substr(dots + 3);
  if (!all_digits(lo) || !all_digits(hi))
    return fail(bad_pattern(pattern, "range bounds must be decimal numbers"));
  uint64_t start = 0, end = 0;
  std::from_chars(lo.data(), lo.data() + lo.size(), start);
  std::from_chars(hi.data(), hi.data() + hi.size(), end);
  if (start > end) return fail(bad_pattern(pattern, "range start above its end"));
  if (end - start + 1 > kMaxExpansion) return fail(bad_pattern(pattern, "range too large"));
  // MinIO pads to the end's width when either bound is written with a leading zero.
  const bool pad = (lo.size() > 1 && lo[0] == '0') || hi[0] == '0';
  std::vector<std::string> labels;
  labels.reserve(end - start + 1);
  for (uint64_t v = start; v <= end; ++v) {
    std::string s = std::to_string(v);
    if (pad && s.size() < hi.size()) s.insert(0, hi.size() - s.size(), '0');
    labels.push_back(std::move(s));
  }
  return labels;
}

}  // namespace

int default_parity(int set_drive_count) {
  if (set_drive_count <= 1) return 0;
  if (set_drive_count <= 3) return 1;
  if (set_drive_count <= 5) return 2;
  if (set_drive_count <= 7) return 3;
  return 4;
}

result<void> validate_parity(int parity, int set_drive_count) {
  const bool ok_range =
      parity >= 0 && parity < set_drive_count && (set_drive_count <= 2 || parity <= set_drive_count / 2);
  if (!ok_range)
    return fail(errc::bad_parity, "parity " + std::to_string(parity) + " not allowed for a set of " +
                                      std::to_string(set_drive_count) + " drives (at most half the set)");
  return ok();
}

result<set_geometry> choose_sets(int total_drives) {
  if (total_drives == 1) return set_geometry{1, 1};
  for (int size = kMaxSetSize; size >= kMinSetSize; --size)
    if (total_drives >= size && total_drives % size == 0) return set_geometry{total_drives / size, size};
  return fail(errc::bad_drive_count, std::to_string(total_drives) +
                                         " drives cannot be split into equal erasure sets of 2 to 16 drives");
}

result<std::vector<std::string>> expand_ellipsis(std::string_view pattern) {
  if (pattern.empty()) return fail(bad_pattern(pattern, "empty"));
  std::vector<segment> segments;
  size_t total = 1;
  for (size_t pos = 0; pos < pattern.size();) {
    const size_t open = pattern.find_first_of("{}", pos);
    if (open == std::string_view::npos) {
      segments.push_back({std::string(pattern.substr(pos)), {}});
      break;
    }
    if (pattern[open] == '}') return fail(bad_pattern(pattern, "'}' without '{'"));
    if (open > pos) segments.push_back({std::string(pattern.substr(pos, open - pos)), {}});
    const size_t close = pattern.find_first_of("{}", open + 1);
    if (close == std::string_view::npos || pattern[close] != '}')
      return fail(bad_pattern(pattern, "'{' without matching '}'"));
    SLUICE_TRY(auto labels, parse_range(pattern, pattern.substr(open + 1, close - open - 1)));
    total *= labels.size();
    if (total > kMaxExpansion) return fail(bad_pattern(pattern, "expands to too many paths"));
    segments.push_back({{}, std::move(labels)});
    pos = close + 1;
  }
  std::vector<std::string> out;
  out.reserve(total);
  for (size_t i = 0; i < total; ++i) {
    std::string path;
    size_t rest = i;  // mixed-radix digits, leftmost range least significant
    for (const auto& s : segments) {
      if (s.labels.empty()) {
        path += s.literal;
        continue;
      }
      path += s.labels[rest % s.labels.size()];
      rest /= s.labels.size();
    }
    out.push_back(std::move(path));
  }
  return out;
}

int set_for_key(std::string_view bucket, std::string_view key, int set_count, const deployment_id& id) {
  if (set_count <= 1) return 0;
  uint64_t k0 = 0, k1 = 0;
  for (int i = 0; i < 8; ++i) {
    k0 |= uint64_t(id[i]) << (8 * i);
    k1 |= uint64_t(id[8 + i]) << (8 * i);
  }
  std::string input;
  input.reserve(bucket.size() + 1 + key.size());
  input.append(bucket).append(1, '/').append(key);
  return int(internal::siphash24(k0, k1, std::as_bytes(std::span(input))) % uint64_t(set_count));
}

std::vector<int> shard_order(std::string_view key, int n) {
  if (n <= 0) return {};
  const uint32_t crc = crc32_gzip_refl(0, reinterpret_cast<const unsigned char*>(key.data()), key.size());
  const int start = int(crc % uint32_t(n));
  std::vector<int> order(n);
  for (int d = 0; d < n; ++d) order[d] = (start + d + 1) % n;
  return order;
}

}  // namespace sluice::objstore::erasure
