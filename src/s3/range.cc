#include "s3/range.h"

#include <charconv>

namespace sluice::s3 {

namespace {
bool parse_u64(std::string_view s, uint64_t& out) {
  if (s.empty() || s.size() > 19) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}
std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}
}  // namespace

range_result parse_range(std::string_view header, uint64_t size) {
  using k = range_result::kind;
  header = trim(header);
  if (!header.starts_with("bytes=")) return {};
  std::string_view spec = trim(header.substr(6));
  if (spec.find(',') != std::string_view::npos) return {};
  auto dash = spec.find('-');
  if (dash == std::string_view::npos) return {};
  std::string_view first = trim(spec.substr(0, dash)), last = trim(spec.substr(dash + 1));
  uint64_t a = 0, b = 0;
  if (first.empty()) {
    // Suffix range: the last n bytes.
    if (!parse_u64(last, b)) return {};
    if (b == 0 || size == 0) return {k::unsatisfiable};
    uint64_t n = b > size ? size : b;
    return {k::satisfiable, size - n, n};
  }
  if (!parse_u64(first, a)) return {};
  if (last.empty()) {
    if (a >= size) return {k::unsatisfiable};
    return {k::satisfiable, a, size - a};
  }
  if (!parse_u64(last, b) || b < a) return {};
  if (a >= size) return {k::unsatisfiable};
  if (b >= size) b = size - 1;
  return {k::satisfiable, a, b - a + 1};
}

}  // namespace sluice::s3
