// The admin HTTP API (root only, SigV4-signed like any S3 request), used by
// `sluice admin`. Paths under /sluice/admin/v1/; JSON bodies.
#include <boost/json.hpp>

#include "s3/internal/request.h"

namespace sluice::s3 {

namespace json = boost::json;

namespace {

result<void> send_json(request& r, const json::value& v, unsigned status = 200) {
  http::response res;
  res.status = status;
  add_common_headers(r, res);
  res.headers.set(http::bhttp::field::content_type, "application/json");
  return r.ex.out.send(res, json::serialize(v) + "\n");
}

}  // namespace

result<void> admin_api(request& r, const context& c) {
  if (!r.user || !r.user->root) return fail(errc::access_denied, "The admin API needs the root credentials.");
  std::string path = r.raw_path.substr(std::string_view("/sluice/admin/v1").size());
  if (path == "/info" && r.method == "GET") {
    SLUICE_TRY(auto st, c.store.storage());
    SLUICE_TRY(auto buckets, c.store.list_buckets());
    json::array drives;
    for (const auto& d : st.drives) {
      drives.push_back(json::object{{"path", d.path}, {"state", d.online ? "online" : "offline"},
                                    {"total_bytes", d.total_bytes}, {"free_bytes", d.free_bytes}});
    }
    json::object out{{"deployment_id", c.opts.deployment_id}, {"region", c.opts.region},
                     {"buckets", buckets.size()}, {"drives", std::move(drives)}};
    return send_json(r, out);
  }
  if (path == "/users") {
    if (r.method == "GET") {
      json::array users;
      for (const auto& u : c.users.list()) {
        users.push_back(json::object{{"access_key", u.access_key}, {"root", u.root}, {"from_config", u.from_config}});
      }
      return send_json(r, json::object{{"users", std::move(users)}});
    }
    std::string ak = r.param("accessKey");
    if (ak.empty()) return fail(errc::admin_invalid_argument, "accessKey is required");
    if (r.method == "PUT") {
      SLUICE_TRY(auto body, read_small_body(r, c));
      boost::system::error_code ec;
      auto v = json::parse(body, ec);
      if (ec || !v.is_object() || !v.as_object().contains("secretKey") || !v.at("secretKey").is_string()) {
        return fail(errc::admin_invalid_argument, "body must be {\"secretKey\": \"...\"}");
      }
      SLUICE_TRY(c.users.add_user(ak, std::string(v.at("secretKey").as_string())));
      return send_json(r, json::object{{"access_key", ak}, {"status", "enabled"}});
    }
    if (r.method == "DELETE") {
      SLUICE_TRY(c.users.remove_user(ak));
      return send_empty(r, 204);
    }
  }
  return fail(errc::admin_invalid_argument, "unknown admin API call " + r.method + " " + r.raw_path);
}

}  // namespace sluice::s3
