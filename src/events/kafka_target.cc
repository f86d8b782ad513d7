// The Kafka target: a librdkafka idempotent producer (target.h; its
// properties: kafka_properties in target_config.cc).
#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <vector>

#include "events/target.h"
#include "events/target_config.h"

namespace sluice::events {

namespace {

// How long a probe waits for a broker's metadata answer.
constexpr int kProbeTimeoutMs = 3000;
// rd_kafka_poll granularity while waiting for delivery reports: also the
// longest an interrupt() waits when rd_kafka_yield misses the poll.
constexpr int kPollMs = 100;

// A produced message's delivery report, written by the callback (on the
// delivery thread, inside rd_kafka_poll).
struct report {
  bool done = false;
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
};

// How long a delivery waits for progress once librdkafka reported every
// broker down, before it gives the queued messages back (purge) and fails,
// so that the target shows offline and retries with backoff. Long enough
// for a reconnect to a broker that is back.
constexpr std::chrono::seconds kAllDownGrace{2};

// librdkafka's own logging: connection failures repeat on every reconnect,
// and the worker already logs a target going offline, so only its critical
// messages are shown at warning level.
void on_log(const rd_kafka_t*, int level, const char* fac, const char* buf) {
  if (level <= 2) {
    spdlog::warn("librdkafka {}: {}", fac, buf);
  } else {
    spdlog::debug("librdkafka {}: {}", fac, buf);
  }
}

class kafka_target final : public target {
 public:
  static result<std::unique_ptr<target>> make(const kv_map& kvs) {
    auto t = std::unique_ptr<kafka_target>(new kafka_target(kvs));
    SLUICE_TRY(t->connect());
    return std::unique_ptr<target>(std::move(t));
  }

  ~kafka_target() override { destroy(); }

  // librdkafka callbacks (opaque: the target). Delivery reports run inside
  // rd_kafka_poll on the delivery thread; errors on librdkafka's threads.
  static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) static_cast<kafka_target*>(opaque)->all_down_ = false;
    auto* r = static_cast<report*>(m->_private);
    if (!r) return;
    r->err = m->err;
    r->done = true;
  }
  static void on_error(rd_kafka_t*, int err, const char* reason, void* opaque) {
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) static_cast<kafka_target*>(opaque)->all_down_ = true;
    spdlog::debug("librdkafka error: {}", reason);
  }

  delivery deliver(std::span<const stored_event> batch) override {
    // A fatal error (e.g. the idempotent producer's sequence state is lost)
    // leaves the producer unusable: start a new one, which gets a new
    // producer id. Already delivered events may then be sent again.
    char errstr[512];
    if (rd_kafka_fatal_error(rk_, errstr, sizeof errstr) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      spdlog::warn("notify kafka {}: producer failed ({}), starting a new one", brokers_, errstr);
      destroy();
      if (auto r = connect(); !r) return {0, r.error()};
    }
    std::vector<report> reports(batch.size());
    size_t produced = 0;
    error produce_error;
    for (; produced < batch.size() && !interrupted_; ++produced) {
      const auto& e = batch[produced];
      rd_kafka_resp_err_t err;
      for (;;) {
        err = rd_kafka_producev(
            rk_, RD_KAFKA_V_TOPIC(topic_.c_str()), RD_KAFKA_V_KEY(e.key.data(), e.key.size()),
            RD_KAFKA_V_VALUE(const_cast<char*>(e.value.data()), e.value.size()),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_HEADER(kEventIdHeader, e.event_id.data(), static_cast<ssize_t>(e.event_id.size())),
            RD_KAFKA_V_OPAQUE(&reports[produced]), RD_KAFKA_V_END);
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || interrupted_) break;
        rd_kafka_poll(rk_, kPollMs);  // the local queue drains as reports come in
      }
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        produce_error = failure(rd_kafka_err2str(err));
        break;
      }
    }
    // Wait for every produced message's report: the callbacks write into
    // `reports`, which must outlive them.
    auto outstanding = [&] {
      size_t n = 0;
      for (size_t i = 0; i < produced; ++i) n += reports[i].done ? 0 : 1;
      return n;
    };
    size_t left = outstanding();
    auto progress = std::chrono::steady_clock::now();
    bool gave_up = false;
    while (left > 0) {
      if (interrupted_) {
        // Purged messages get a report (with a purge error) on the next poll.
        rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
      } else if (all_down_ && std::chrono::steady_clock::now() - progress > kAllDownGrace) {
        // Only messages not yet sent: purging in-flight ones would upset the
        // idempotent producer's sequence numbers.
        rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE);
        gave_up = true;
      }
      rd_kafka_poll(rk_, kPollMs);
      if (const size_t now_left = outstanding(); now_left < left) {
        left = now_left;
        progress = std::chrono::steady_clock::now();
      }
    }
    for (size_t i = 0; i < produced; ++i) {
      if (reports[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return {i, failure(gave_up ? "all brokers are down" : rd_kafka_err2str(reports[i].err))};
      }
    }
    if (produced < batch.size()) {
      return {produced, interrupted_ ? error(errc::closed, "interrupted") : produce_error};
    }
    return {batch.size(), {}};
  }

  // A metadata request, in short slices so that interrupt() is seen soon.
  result<void> probe() override {
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__TIMED_OUT;
    for (int waited = 0; waited < kProbeTimeoutMs && !interrupted_; waited += kPollMs * 3) {
      const struct rd_kafka_metadata* md = nullptr;
      err = rd_kafka_metadata(rk_, 0, nullptr, &md, kPollMs * 3);
      if (md) rd_kafka_metadata_destroy(md);
      if (err != RD_KAFKA_RESP_ERR__TIMED_OUT) break;
    }
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return fail(failure(rd_kafka_err2str(err)));
    return ok();
  }

  void interrupt() override {
    interrupted_ = true;
    std::lock_guard lock(mu_);
    if (rk_) rd_kafka_yield(rk_);
  }

 private:
  explicit kafka_target(const kv_map& kvs)
      : props_(kafka_properties(kvs)), topic_(value_of(kvs, "topic")), brokers_(value_of(kvs, "brokers")) {}

  static std::string value_of(const kv_map& kvs, const std::string& k) {
    auto it = kvs.find(k);
    return it == kvs.end() ? std::string() : it->second;
  }

  error failure(const std::string& what) const {
    return error(errc::target_error, "kafka " + brokers_ + " topic " + topic_ + ": " + what);
  }

  // Creating the producer does not contact the brokers (librdkafka connects
  // in the background and reconnects with backoff on its own), so the
  // server starts while the brokers are down.
  result<void> connect() {
    char errstr[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    for (const auto& [k, v] : props_) {
      if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(conf);
        return fail(errc::bad_config, "kafka " + k + ": " + errstr);
      }
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_error_cb(conf, on_error);
    rd_kafka_conf_set_log_cb(conf, on_log);
    rd_kafka_conf_set_opaque(conf, this);
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);  // owns conf on success
    if (!rk) {
      rd_kafka_conf_destroy(conf);
      return fail(failure(errstr));
    }
    std::lock_guard lock(mu_);
    rk_ = rk;
    return ok();
  }

  void destroy() {
    if (!rk_) return;
    // What was not acknowledged stays in the outbox and is sent again by the
    // next producer: nothing here needs to wait for the brokers.
    rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(rk_, 0);
    rd_kafka_t* rk = nullptr;
    {
      std::lock_guard lock(mu_);
      std::swap(rk, rk_);
    }
    rd_kafka_destroy(rk);
  }

  const std::vector<std::pair<std::string, std::string>> props_;
  const std::string topic_;
  const std::string brokers_;
  // Replaced only by the delivery thread, under mu_ so that interrupt() on
  // another thread never yields a destroyed handle.
  std::mutex mu_;
  rd_kafka_t* rk_ = nullptr;
  std::atomic<bool> interrupted_{false};
  std::atomic<bool> all_down_{false};  // librdkafka: every broker down (until a delivery succeeds)
};

}  // namespace

result<std::unique_ptr<target>> make_kafka_target(const std::map<std::string, std::string>& kvs) {
  return kafka_target::make(kvs);
}

}  // namespace sluice::events
