// Bucket notifications: Put/GetBucketNotificationConfiguration and
// ListenBucketNotification (MinIO's watch stream).
#include <algorithm>

#include "events/sink.h"
#include "s3/internal/request.h"
#include "s3/xml.h"

namespace sluice::s3 {

namespace {

using clock = std::chrono::steady_clock;

// How long the watch loop waits for an event at a time: bounds how late it
// notices a client that left or a server that stops, and MinIO's keep-alive
// period without ?ping.
constexpr std::chrono::milliseconds kWatchSlice{500};

// The normalised document to store. Without a notifier no target exists, so
// every rule fails with its ARN (after the checks MinIO makes before that).
result<std::string> validate_rules(const context& c, std::string_view xml) {
  if (c.events) return c.events->validate_rules(xml);
  SLUICE_TRY(auto set, events::rule_set::parse(
                           xml, [](const events::arn&) { return false; }, c.opts.region));
  return set.to_xml();
}

// The single value of a query parameter given at most once; `twice` otherwise.
result<std::string> single_param(const request& r, const std::string& name, events::errc twice) {
  if (r.query.count(name) > 1) return fail(twice);
  return r.param(name);
}

result<events::watch_filter> watch_filter_of(const request& r) {
  events::watch_filter f;
  f.bucket = r.bucket;
  SLUICE_TRY(f.prefix, single_param(r, "prefix", events::errc::filter_duplicate_prefix));
  SLUICE_TRY(f.suffix, single_param(r, "suffix", events::errc::filter_duplicate_suffix));
  SLUICE_TRY(events::validate_filter_value(f.prefix));
  SLUICE_TRY(events::validate_filter_value(f.suffix));
  auto [first, last] = r.query.equal_range("events");
  for (auto it = first; it != last; ++it) {
    SLUICE_TRY(auto mask, events::parse_event_name(it->second));
    f.events |= mask;
  }
  return f;
}

// ?ping=N: seconds between {"Records":null} lines; absent: a space every 500 ms.
result<std::optional<std::chrono::seconds>> ping_of(const request& r) {
  if (!r.has("ping")) return std::optional<std::chrono::seconds>();
  std::string v = r.param("ping");
  char* end = nullptr;
  long n = std::strtol(v.c_str(), &end, 10);
  if (v.empty() || *end || n < 1 || n > 86400) {
    return fail(events::errc::invalid_argument, "ping must be a whole number of seconds between 1 and 86400");
  }
  return std::optional<std::chrono::seconds>(n);
}

result<void> check_watcher(request& r, const context& c) {
  if (!r.user) return fail(errc::access_denied);
  // The global stream shows every bucket's events: root only.
  if (r.bucket.empty()) {
    if (!r.user->root) return fail(errc::access_denied);
    return ok();
  }
  SLUICE_TRY(authorize_bucket(r, c, r.bucket, ""));
  return ok();
}

// Streams event lines until the client leaves, the server stops or the
// watcher fell too far behind (the client then reconnects, as minio-py and mc do).
result<void> stream_events(request& r, events::subscription& sub, std::optional<std::chrono::seconds> ping) {
  const auto keep_alive_every = ping ? std::chrono::duration_cast<clock::duration>(*ping) : kWatchSlice;
  const std::string keep_alive = ping ? "{\"Records\":null}\n" : " ";
  auto next_keep_alive = clock::now() + keep_alive_every;
  while (!r.ex.out.interrupted()) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(next_keep_alive - clock::now());
    auto item = sub.next(std::clamp(left, std::chrono::milliseconds(0), kWatchSlice));
    if (item.overflowed) break;
    if (item.line) {
      SLUICE_TRY(r.ex.out.write(*item.line + "\n"));
    } else if (clock::now() >= next_keep_alive) {
      SLUICE_TRY(r.ex.out.write(keep_alive));
      next_keep_alive = clock::now() + keep_alive_every;
    }
  }
  return r.ex.out.finish();
}

}  // namespace

// Called by bucket_subresource after the owner check.
result<void> bucket_notification(request& r, const context& c) {
  if (r.method == "GET") {
    SLUICE_TRY(auto doc, c.store.bucket_config(r.bucket, "notification"));
    if (doc) return send_xml(r, *doc);
    return send_xml(r, xml_writer("NotificationConfiguration").finish());
  }
  if (r.method != "PUT") return fail(errc::method_not_allowed);
  auto length = r.ex.body.content_length();
  if (!length || *length == 0) return fail(errc::missing_content_length);
  SLUICE_TRY(auto body, read_small_body(r, c));
  SLUICE_TRY(auto doc, validate_rules(c, body));
  // A configuration without rules is stored too: it is how S3 clients delete all rules.
  SLUICE_TRY(c.store.set_bucket_config(r.bucket, "notification", doc));
  if (c.events) c.events->rules_changed(r.bucket);
  return send_empty(r, 200);
}

result<void> listen_notification(request& r, const context& c) {
  SLUICE_TRY(check_watcher(r, c));
  SLUICE_TRY(auto filter, watch_filter_of(r));
  SLUICE_TRY(auto ping, ping_of(r));
  if (!c.events) return fail(errc::not_implemented, "Bucket notifications are not enabled on this server.");
  auto sub = c.events->subscribe(filter);
  http::response res;
  res.status = 200;
  add_common_headers(r, res);
  res.headers.set(http::bhttp::field::content_type, "text/event-stream");
  res.headers.set(http::bhttp::field::cache_control, "no-cache");
  res.headers.set("X-Accel-Buffering", "no");
  SLUICE_TRY(r.ex.out.begin_chunked(res));
  return stream_events(r, *sub, ping);
}

}  // namespace sluice::s3
