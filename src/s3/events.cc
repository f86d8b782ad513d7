// Bucket events raised by the S3 handlers: the request's part of every event
// (who, from where, which request) and the object's part, filled the way
// MinIO fills them (../shared/reference/minio.md §1).
#include "events/sink.h"
#include "s3/internal/request.h"

namespace sluice::s3 {

namespace {

// "ip:port" / "[v6]:port" → the address alone (MinIO's source IP has no port).
std::string host_of(const std::string& address) {
  if (address.starts_with('[')) {
    auto close = address.find(']');
    return close == std::string::npos ? address : address.substr(1, close - 1);
  }
  auto colon = address.rfind(':');
  return colon == std::string::npos ? address : address.substr(0, colon);
}

// Go's canonical header form ("x-amz-meta-foo-bar" → "X-Amz-Meta-Foo-Bar"):
// MinIO keeps user metadata under the names Go's HTTP server gave the headers.
std::string canonical_header(std::string name) {
  bool upper = true;
  for (auto& ch : name) {
    auto u = static_cast<unsigned char>(ch);
    ch = static_cast<char>(upper ? std::toupper(u) : std::tolower(u));
    upper = ch == '-';
  }
  return name;
}

std::map<std::string, std::string> user_metadata(const objstore::metadata_map& stored) {
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : stored) out[k.starts_with("x-amz-meta-") ? canonical_header(k) : k] = v;
  return out;
}

}  // namespace

result<void> admit_events(const context& c, const std::string& bucket) {
  if (!c.events) return ok();
  return c.events->admit(bucket);
}

events::event_args key_event(const request& r, const context& c, std::string_view name,
                             const std::string& key, const std::string& version_id) {
  events::event_args e;
  e.name = std::string(name);
  e.bucket = r.bucket;
  e.key = key;
  e.version_id = version_id;
  e.region = c.opts.region;
  e.principal_id = r.user ? r.user->access_key : std::string();
  e.source_ip = host_of(r.ex.conn.remote_address);
  e.user_agent = r.header("user-agent");
  e.request_id = r.request_id;
  e.range = r.header("range");
  e.deployment_id = c.opts.deployment_id;
  e.origin_endpoint = std::string(r.ex.conn.tls ? "https://" : "http://") + r.header("host");
  return e;
}

result<void> publish_events(const context& c, std::span<const events::event_args> events) {
  if (!c.events || events.empty()) return ok();
  return c.events->publish(events);
}

namespace {

events::event_args object_event(request& r, const context& c, std::string_view name,
                                const objstore::object_info& info) {
  auto e = key_event(r, c, name, info.key, info.version_id);
  e.size = info.size;
  e.etag = info.etag;
  e.content_type = info.content_type();
  e.user_metadata = user_metadata(info.metadata);
  e.mod_time = info.mod_time;
  return e;
}

}  // namespace

result<void> publish_object_event(request& r, const context& c, std::string_view name,
                                  const objstore::object_info& info, std::optional<uint64_t> content_length) {
  if (!c.events) return ok();
  // Reads are the most frequent requests and rarely watched: skip building their events.
  if (name.starts_with("s3:ObjectAccessed:") && !c.events->wants(r.bucket, name)) return ok();
  auto e = object_event(r, c, name, info);
  e.content_length = content_length;
  return c.events->publish({&e, 1});
}

result<std::unique_ptr<events::prepared_events>> prepare_object_event(request& r, const context& c,
                                                                      std::string_view name,
                                                                      const objstore::object_info& info) {
  if (!c.events) return std::unique_ptr<events::prepared_events>();
  std::vector<events::event_args> e;
  e.push_back(object_event(r, c, name, info));
  return c.events->prepare(std::move(e));
}

result<void> commit_events(std::unique_ptr<events::prepared_events>& prepared) {
  if (!prepared) return ok();
  auto p = std::move(prepared);
  return p->commit();
}

}  // namespace sluice::s3
