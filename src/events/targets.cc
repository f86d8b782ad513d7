// The webhook and built-in targets (target.h). The Kafka target is in
// kafka_target.cc.
#include <vector>

#include "events/target.h"
#include "events/target_config.h"
#include "http/client.h"
#include "net/stream.h"

namespace sluice::events {

namespace {

// One POST may take this long (connect, send, answer); then it fails and is
// retried with backoff. Also the longest a stop() waits for a connect.
constexpr std::chrono::seconds kWebhookTimeout{10};
constexpr std::chrono::seconds kProbeTimeout{3};

// HTTP POST of the event JSON (the Kafka message value) to the endpoint,
// one request per event on a keep-alive connection; 2xx is delivered.
class webhook_target final : public target {
 public:
  webhook_target(http_endpoint ep, std::string url, std::string auth, std::shared_ptr<net::tls_context> tls)
      : ep_(std::move(ep)),
        url_(std::move(url)),
        auth_(std::move(auth)),
        tls_(tls),
        conn_(ep_.host, ep_.port, kWebhookTimeout, std::move(tls), ep_.host) {}

  delivery deliver(std::span<const stored_event> batch) override {
    for (size_t i = 0; i < batch.size(); ++i) {
      std::vector<std::pair<std::string, std::string>> headers = {{"Host", ep_.host_header},
                                                                  {"Content-Type", "application/json"},
                                                                  {"X-Sluice-Event-Id", batch[i].event_id}};
      if (!auth_.empty()) headers.emplace_back("Authorization", auth_);
      auto r = conn_.request("POST", ep_.target, headers, batch[i].value);
      if (!r) return {i, error(errc::target_error, "webhook " + url_ + ": " + r.error().message())};
      if (r.value().status / 100 != 2) {
        return {i, error(errc::target_error,
                         "webhook " + url_ + " answered " + std::to_string(r.value().status))};
      }
    }
    return {batch.size(), {}};
  }

  // A TCP connection (and TLS handshake) to the endpoint; MinIO's webhook
  // probes with a request, but an arbitrary endpoint may not like extra
  // requests.
  result<void> probe() override {
    auto s = net::stream::connect(ep_.host, ep_.port, kProbeTimeout, tls_, ep_.host);
    if (!s) return fail(errc::target_error, "webhook " + url_ + ": " + s.error().message());
    return ok();
  }

  void interrupt() override { conn_.interrupt(); }

 private:
  const http_endpoint ep_;
  const std::string url_;
  const std::string auth_;
  std::shared_ptr<net::tls_context> tls_;
  http::connection conn_;
};

// The built-in target: Sluice's own stream engine, in-process.
class local_target final : public target {
 public:
  local_target(local_producer producer, std::string topic)
      : producer_(std::move(producer)), topic_(std::move(topic)) {}

  delivery deliver(std::span<const stored_event> batch) override {
    std::vector<local_message> msgs;
    msgs.reserve(batch.size());
    for (const auto& e : batch) {
      msgs.push_back(local_message{e.key, e.value, {{kEventIdHeader, e.event_id}}});
    }
    // All or nothing: the producer appends the whole batch or fails.
    auto r = producer_(topic_, msgs);
    if (!r) return {0, error(errc::target_error, "topic " + topic_ + ": " + r.error().message())};
    return {batch.size(), {}};
  }
  result<void> probe() override { return ok(); }
  void interrupt() override {}

 private:
  local_producer producer_;
  const std::string topic_;
};

std::string value_of(const std::map<std::string, std::string>& kvs, const std::string& k) {
  auto it = kvs.find(k);
  return it == kvs.end() ? std::string() : it->second;
}

}  // namespace

result<std::unique_ptr<target>> make_webhook_target(const std::map<std::string, std::string>& kvs) {
  const std::string url = value_of(kvs, "endpoint");
  SLUICE_TRY(auto ep, parse_endpoint(url));
  std::shared_ptr<net::tls_context> tls;
  if (ep.tls) {
    auto t = net::tls_context::client(true, {}, value_of(kvs, "client_cert"), value_of(kvs, "client_key"));
    if (!t) return fail(errc::target_error, "webhook " + url + ": " + t.error().message());
    tls = std::move(t).value();
  }
  // MinIO's rule: a token with a scheme ("Basic …", "Bearer …") is sent as
  // is, a bare one as a bearer token.
  std::string auth = value_of(kvs, "auth_token");
  if (!auth.empty() && auth.find(' ') == std::string::npos) auth = "Bearer " + auth;
  return std::unique_ptr<target>(new webhook_target(std::move(ep), url, std::move(auth), std::move(tls)));
}

std::unique_ptr<target> make_local_target(local_producer producer, std::string topic) {
  return std::make_unique<local_target>(std::move(producer), std::move(topic));
}

}  // namespace sluice::events
