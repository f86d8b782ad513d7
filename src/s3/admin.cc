// The admin HTTP API (root only, SigV4-signed like any S3 request), used by
// `sluice admin`. Paths under /sluice/admin/v1/; JSON bodies.
#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <chrono>

#include "base/encoding.h"
#include "base/time.h"
#include "events/sink.h"
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

// How long `info` may spend counting objects before it reports a lower bound.
constexpr std::chrono::seconds kUsageBudget{5};

json::value heal_json(const objstore::heal_status& h) {
  return json::object{{"id", h.id},
                      {"state", objstore::to_string(h.st)},
                      {"reason", h.reason},
                      {"bucket", h.bucket},
                      {"prefix", h.prefix},
                      {"started", h.id ? json::value(format_iso8601(h.started)) : json::value(nullptr)},
                      {"finished", h.id && h.st != objstore::heal_status::state::running
                                       ? json::value(format_iso8601(h.finished))
                                       : json::value(nullptr)},
                      {"objects_scanned", h.counts.objects_scanned},
                      {"objects_healed", h.counts.objects_healed},
                      {"shards_written", h.counts.shards_written},
                      {"failed", h.counts.failed},
                      {"error", h.error}};
}

// GET /info: what `mc admin info` shows. Field names and meanings are kept
// stable for scripts (docs: README, "Administration").
result<void> info(request& r, const context& c) {
  SLUICE_TRY(auto st, c.store.storage());
  SLUICE_TRY(auto usage, objstore::count_usage(c.store, kUsageBudget));
  json::array drives;
  std::vector<json::object> sets(static_cast<size_t>(std::max(1, st.sets)));
  for (size_t i = 0; i < sets.size(); ++i) {
    sets[i] = json::object{{"index", i}, {"drives_online", 0}, {"drives_offline", 0}, {"drives_healing", 0}};
  }
  uint64_t online = 0, offline = 0, healing = 0;
  for (const auto& d : st.drives) {
    drives.push_back(json::object{{"path", d.path},
                                  {"state", d.online ? "online" : "offline"},
                                  {"healing", d.healing},
                                  {"set", d.set},
                                  {"total_bytes", d.total_bytes},
                                  {"free_bytes", d.free_bytes},
                                  {"used_bytes", d.total_bytes - std::min(d.total_bytes, d.free_bytes)}});
    (d.online ? online : offline) += 1;
    healing += d.healing ? 1 : 0;
    if (d.set >= 0 && static_cast<size_t>(d.set) < sets.size()) {
      auto& s = sets[static_cast<size_t>(d.set)];
      const char* field = d.online ? "drives_online" : "drives_offline";
      s[field] = s[field].to_number<uint64_t>() + 1;
      if (d.healing) s["drives_healing"] = s["drives_healing"].to_number<uint64_t>() + 1;
    }
  }
  json::array set_array;
  for (auto& s : sets) set_array.push_back(std::move(s));
  json::object out{{"deployment_id", c.opts.deployment_id},
                   {"region", c.opts.region},
                   {"backend", st.backend},
                   {"buckets", usage.buckets},
                   {"objects", usage.objects},
                   {"object_bytes", usage.bytes},
                   {"usage_complete", usage.complete},
                   {"sets", st.sets},
                   {"drives_per_set", st.drives_per_set},
                   {"parity", st.parity},
                   {"standard_storage_class", "EC:" + std::to_string(st.parity)},
                   {"drives_online", online},
                   {"drives_offline", offline},
                   {"drives_healing", healing},
                   {"total_bytes", st.total_bytes},
                   {"free_bytes", st.free_bytes},
                   {"used_bytes", st.total_bytes - std::min(st.total_bytes, st.free_bytes)},
                   {"erasure_sets", std::move(set_array)},
                   {"drives", std::move(drives)},
                   {"heal_backlog", st.heal_backlog},
                   {"heal", st.heal ? heal_json(*st.heal) : json::value(nullptr)}};
  return send_json(r, out);
}

json::value sections_json(const std::vector<events::config_section>& sections) {
  json::array out;
  for (const auto& s : sections) {
    json::object kvs;
    for (const auto& [k, v] : s.kvs) kvs[k] = v;
    out.push_back(json::object{{"name", s.name}, {"kvs", std::move(kvs)}});
  }
  return json::object{{"sections", std::move(out)}};
}

// GET /notify/targets; GET, PUT ({"key": "value", ...}) and DELETE
// /config/<section>: notification targets and their configuration
// (docs/NOTIFICATIONS.md). Changes apply at once, without a restart.
result<void> notify_api(request& r, const context& c, const std::string& path) {
  if (!c.events) return fail(errc::admin_invalid_argument, "bucket notifications are not enabled on this server");
  if (path == "/notify/targets" && r.method == "GET") {
    json::array targets;
    for (const auto& t : c.events->targets()) {
      targets.push_back(json::object{{"arn", t.arn},
                                     {"type", t.type},
                                     {"endpoint", t.endpoint},
                                     {"state", t.online ? "online" : "offline"},
                                     {"queued", t.queued},
                                     {"delivered", t.delivered},
                                     {"failed_attempts", t.failed_attempts},
                                     {"last_error", t.last_error}});
    }
    return send_json(r, json::object{{"targets", std::move(targets)}});
  }
  const auto name = uri_decode(path.substr(std::string_view("/config/").size()));
  if (!name || name->empty()) return fail(errc::admin_invalid_argument, "bad configuration section name in " + path);
  if (r.method == "GET") {
    SLUICE_TRY(auto sections, c.events->get_config(*name));
    return send_json(r, sections_json(sections));
  }
  if (r.method == "PUT") {
    SLUICE_TRY(auto body, read_small_body(r, c));
    boost::system::error_code ec;
    auto v = json::parse(body, ec);
    if (ec || !v.is_object()) return fail(errc::admin_invalid_argument, "body must be {\"key\": \"value\", ...}");
    events::config_section s{*name, {}};
    for (const auto& kv : v.as_object()) {
      if (!kv.value().is_string()) {
        return fail(errc::admin_invalid_argument, "the value of " + std::string(kv.key()) + " must be a string");
      }
      s.kvs.emplace_back(std::string(kv.key()), std::string(kv.value().as_string()));
    }
    SLUICE_TRY(c.events->set_config(s));
    SLUICE_TRY(auto sections, c.events->get_config(*name));
    return send_json(r, sections_json(sections));
  }
  if (r.method == "DELETE") {
    SLUICE_TRY(c.events->reset_config(*name));
    return send_empty(r, 204);
  }
  return fail(errc::admin_invalid_argument, "unknown admin API call " + r.method + " " + r.raw_path);
}

}  // namespace

result<void> admin_api(request& r, const context& c) {
  if (!r.user || !r.user->root) return fail(errc::access_denied, "The admin API needs the root credentials.");
  std::string path = r.raw_path.substr(std::string_view("/sluice/admin/v1").size());
  if (path == "/info" && r.method == "GET") return info(r, c);
  if (path == "/notify/targets" || path.starts_with("/config/")) return notify_api(r, c, path);
  if (path == "/heal") {
    // POST ?bucket=&prefix= starts a heal sequence (all buckets without bucket); GET shows the running or
    // last one.
    if (r.method == "POST") {
      if (r.param("bucket").empty() && !r.param("prefix").empty()) {
        return fail(errc::admin_invalid_argument, "a prefix needs a bucket");
      }
      SLUICE_TRY(auto h, c.store.start_heal(r.param("bucket"), r.param("prefix")));
      return send_json(r, heal_json(h), 202);
    }
    if (r.method == "GET") {
      uint64_t id = 0;
      if (const std::string v = r.param("id"); !v.empty()) {
        auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), id);
        if (ec != std::errc() || end != v.data() + v.size())
          return fail(errc::admin_invalid_argument, "bad id " + v);
      }
      auto h = c.store.last_heal(id);
      if (!h && h.error().is(objstore::errc::bad_argument)) {
        return fail(errc::admin_invalid_argument, h.error().message());
      }
      if (!h) return fail(h.error());
      return send_json(r, heal_json(h.value()));
    }
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
