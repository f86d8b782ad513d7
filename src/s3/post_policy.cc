#include "s3/post_policy.h"

#include <boost/json.hpp>
#include <cctype>
#include <charconv>
#include <optional>

#include "base/encoding.h"
#include "base/time.h"
#include "s3/auth/sigv4.h"

namespace sluice::s3 {

namespace {

namespace json = boost::json;

error violation(const std::string& why) {
  return error(auth::errc::policy_violation, "Invalid according to Policy: " + why);
}

// A size bound of content-length-range: a JSON integer or a string of digits.
std::optional<uint64_t> size_bound(const json::value& j) {
  if (j.is_uint64()) return j.as_uint64();
  if (j.is_int64())
    return j.as_int64() >= 0 ? std::optional<uint64_t>(static_cast<uint64_t>(j.as_int64())) : std::nullopt;
  if (!j.is_string()) return std::nullopt;
  std::string_view s = j.as_string();
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

result<post_policy_limits> check_post_policy(std::string_view policy_b64,
                                             const std::map<std::string, std::string>& fields,
                                             const std::string& bucket,
                                             std::chrono::system_clock::time_point now) {
  auto decoded = base64_decode(policy_b64);
  if (!decoded) return fail(auth::errc::policy_malformed, "policy is not valid base64");
  boost::system::error_code ec;
  auto v = json::parse(*decoded, ec);
  if (ec || !v.is_object()) return fail(auth::errc::policy_malformed, "policy is not a JSON object");
  const auto& o = v.as_object();
  auto* exp = o.if_contains("expiration");
  if (!exp || !exp->is_string()) return fail(auth::errc::policy_malformed, "policy has no expiration");
  auto when = parse_iso8601(std::string(exp->as_string()));
  if (!when) return fail(auth::errc::policy_malformed, "policy expiration is not an ISO 8601 time");
  if (*when < now) return fail(violation("Policy expired."));
  auto* conds = o.if_contains("conditions");
  if (!conds || !conds->is_array()) return fail(auth::errc::policy_malformed, "policy has no conditions");
  post_policy_limits limits;
  auto field_value = [&](std::string name) -> std::optional<std::string> {
    for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (name.starts_with("$")) name = name.substr(1);
    if (name == "bucket") return bucket;
    auto it = fields.find(name);
    if (it == fields.end()) return std::nullopt;
    return it->second;
  };
  auto as_string = [](const json::value& j) -> std::optional<std::string> {
    if (j.is_string()) return std::string(j.as_string());
    if (j.is_int64()) return std::to_string(j.as_int64());
    if (j.is_uint64()) return std::to_string(j.as_uint64());
    return std::nullopt;
  };
  for (const auto& c : conds->as_array()) {
    if (c.is_object()) {
      for (const auto& [k, want] : c.as_object()) {
        auto have = field_value(std::string(k));
        auto w = as_string(want);
        if (!w) return fail(auth::errc::policy_malformed, "bad condition value");
        if (!have || *have != *w)
          return fail(
              violation("Policy Condition failed: [\"eq\", \"$" + std::string(k) + "\", \"" + *w + "\"]"));
      }
    } else if (c.is_array() && c.as_array().size() == 3) {
      const auto& a = c.as_array();
      auto op = as_string(a[0]);
      if (!op) return fail(auth::errc::policy_malformed, "bad condition");
      if (*op == "content-length-range") {
        auto lo = size_bound(a[1]), hi = size_bound(a[2]);
        if (!lo || !hi || *lo > *hi) {
          return fail(auth::errc::policy_malformed,
                      "content-length-range needs two non-negative integers, the first not above the second");
        }
        limits.min_size = *lo;
        limits.max_size = *hi;
        continue;
      }
      auto name = as_string(a[1]);
      auto want = as_string(a[2]);
      if (!name || !want) return fail(auth::errc::policy_malformed, "bad condition");
      auto have = field_value(*name);
      if (*op == "eq") {
        if (!have || *have != *want)
          return fail(violation("Policy Condition failed: [\"eq\", \"" + *name + "\", \"" + *want + "\"]"));
      } else if (*op == "starts-with") {
        if (!have || !have->starts_with(*want)) {
          return fail(
              violation("Policy Condition failed: [\"starts-with\", \"" + *name + "\", \"" + *want + "\"]"));
        }
      } else {
        return fail(auth::errc::policy_malformed, "unknown condition operator " + *op);
      }
    } else {
      return fail(auth::errc::policy_malformed, "bad condition");
    }
  }
  return limits;
}

}  // namespace sluice::s3
