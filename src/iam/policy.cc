#include "iam/policy.h"

#include <boost/json.hpp>

#include "iam/iam.h"

namespace sluice::iam {

namespace json = boost::json;

namespace {

error bad(const std::string& why) { return error(errc::invalid_policy, why); }

result<std::vector<std::string>> strings(const json::value* v, const char* what) {
  std::vector<std::string> out;
  if (!v) return fail(bad(std::string("policy statement has no ") + what));
  if (v->is_string()) {
    out.emplace_back(v->as_string());
  } else if (v->is_array()) {
    for (const auto& e : v->as_array()) {
      if (!e.is_string()) return fail(bad(std::string(what) + " entries must be strings"));
      out.emplace_back(e.as_string());
    }
  } else {
    return fail(bad(std::string(what) + " must be a string or a list"));
  }
  if (out.empty()) return fail(bad(std::string(what) + " is empty"));
  return out;
}

}  // namespace

result<bucket_policy> parse_bucket_policy(std::string_view text, const std::string& bucket) {
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  if (ec || !v.is_object()) return fail(bad("policy is not a JSON object"));
  auto* st = v.as_object().if_contains("Statement");
  if (!st) return fail(bad("policy has no Statement"));
  json::array list;
  if (st->is_array()) list = st->as_array();
  else if (st->is_object()) list.push_back(*st);
  else return fail(bad("Statement must be a list"));
  bucket_policy p;
  for (const auto& sv : list) {
    if (!sv.is_object()) return fail(bad("statement must be an object"));
    const auto& so = sv.as_object();
    statement s;
    auto* effect = so.if_contains("Effect");
    if (!effect || !effect->is_string() || (effect->as_string() != "Allow" && effect->as_string() != "Deny")) {
      return fail(bad("Effect must be Allow or Deny"));
    }
    s.allow = effect->as_string() == "Allow";
    if (auto* pr = so.if_contains("Principal")) {
      if (pr->is_string()) {
        s.any_principal = pr->as_string() == "*";
      } else if (pr->is_object()) {
        if (auto* aws = pr->as_object().if_contains("AWS")) {
          SLUICE_TRY(auto names, strings(aws, "Principal"));
          for (const auto& n : names) s.any_principal = s.any_principal || n == "*";
        }
      } else {
        return fail(bad("bad Principal"));
      }
    } else {
      return fail(bad("statement has no Principal"));
    }
    SLUICE_TRY(s.actions, strings(so.if_contains("Action"), "Action"));
    for (const auto& a : s.actions) {
      if (!a.starts_with("s3:") && a != "*") return fail(bad("unsupported action " + a));
    }
    SLUICE_TRY(s.resources, strings(so.if_contains("Resource"), "Resource"));
    for (const auto& r : s.resources) {
      std::string arn = "arn:aws:s3:::" + bucket;
      if (r != arn && !r.starts_with(arn + "/") && !wildcard_match(r, arn)) {
        return fail(bad("Policy has invalid resource " + r));
      }
    }
    s.has_condition = so.contains("Condition");
    p.statements.push_back(std::move(s));
  }
  return p;
}

bool allows_anonymous(const bucket_policy& p, std::string_view action, std::string_view resource) {
  bool allowed = false;
  for (const auto& s : p.statements) {
    if (!s.any_principal) continue;
    bool action_ok = false, resource_ok = false;
    for (const auto& a : s.actions) action_ok = action_ok || wildcard_match(a, action);
    for (const auto& r : s.resources) resource_ok = resource_ok || wildcard_match(r, resource);
    if (!action_ok || !resource_ok) continue;
    if (!s.allow) return false;  // an explicit Deny matches even with conditions we do not evaluate
    if (!s.has_condition) allowed = true;
  }
  return allowed;
}

}  // namespace sluice::iam
