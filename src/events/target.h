#pragma once
// Notification targets (where events go) and the delivery worker that feeds
// one target from the outbox, in order, retrying forever.
//
// Targets: kafka (any Kafka cluster, librdkafka), webhook (HTTP POST), sluice
// (the built-in stream engine through a local_producer). Their configuration
// keys: target_config.h; the delivery design: docs/NOTIFICATIONS.md.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "base/result.h"
#include "events/outbox.h"

namespace sluice::events {

// A message of the built-in target, appended to Sluice's own stream engine.
struct local_message {
  std::string key, value;
  std::vector<std::pair<std::string, std::string>> headers;
};
// Appends messages to `topic` of the local stream engine (created on demand)
// and returns once they are durable there. Called from a delivery thread.
using local_producer = std::function<result<void>(const std::string& topic, std::span<const local_message>)>;

// The header carrying an event's id (Kafka header / HTTP header), so that
// consumers can drop the duplicates at-least-once delivery may produce.
inline constexpr const char* kEventIdHeader = "x-sluice-event-id";

// The outcome of one deliver() call: the first `delivered` messages of the
// batch reached the target; when that is fewer than all, `err` says why the
// next one did not (the caller retries from there).
struct delivery {
  size_t delivered = 0;
  error err;
};

class target {
 public:
  virtual ~target() = default;
  // Sends the batch in order. Called from the target's delivery thread only.
  virtual delivery deliver(std::span<const stored_event> batch) = 0;
  // Whether the target answers, for a target that had nothing to deliver
  // yet (bounded by a few seconds). Delivery thread only.
  virtual result<void> probe() = 0;
  // Makes a running or later deliver()/probe() return promptly (with what it
  // delivered so far). Any thread; the target is not used afterwards.
  virtual void interrupt() = 0;
};

// Creates a target; may fail (e.g. a TLS file that cannot be read), then the
// worker retries with backoff.
using target_factory = std::function<result<std::unique_ptr<target>>()>;

// Factories. The sections are validated (target_config.h); these fail only
// for what validation cannot see (e.g. a certificate file that is missing).
result<std::unique_ptr<target>> make_kafka_target(const std::map<std::string, std::string>& kvs);
result<std::unique_ptr<target>> make_webhook_target(const std::map<std::string, std::string>& kvs);
std::unique_ptr<target> make_local_target(local_producer producer, std::string topic);

struct worker_options {
  // Backoff between failed attempts: starts at min, doubles up to max; each
  // wait is a random time in [backoff/2, backoff] so that targets that failed
  // together do not retry in lockstep.
  std::chrono::milliseconds min_backoff{100};
  std::chrono::milliseconds max_backoff{10'000};
  // A batch read from the outbox: at most this many events and (except for
  // a single larger event) bytes.
  size_t batch_events = 500;
  uint64_t batch_bytes = 4 << 20;
  // After delivering a batch smaller than batch_events, wait this long before
  // reading the next (as a Kafka producer's linger.ms): under load, batches
  // grow and the target pays one write (one WAL fsync, one produce request)
  // per batch instead of per event. The first event after an idle spell is
  // sent at once. Bounds the latency an event gains under load.
  std::chrono::milliseconds linger{5};
};

struct worker_stats {
  bool online = false;
  uint64_t delivered = 0;
  uint64_t failed_attempts = 0;
  std::string last_error;
};

// One thread per target: reads the target's events from the outbox in seq
// order, delivers them, deletes what was delivered, and retries failures with
// backoff forever: an event is never skipped, so the target sees each
// object's events in the order they were accepted (at-least-once: after a
// crash or a partial failure some are sent again).
class delivery_worker {
 public:
  delivery_worker(outbox& box, std::string arn, target_factory make, worker_options opts = {});
  ~delivery_worker();  // stop()
  delivery_worker(const delivery_worker&) = delete;
  delivery_worker& operator=(const delivery_worker&) = delete;

  // New events were committed for this target.
  void wake();
  // Interrupts the target and joins the thread. Events not yet deleted stay
  // in the outbox for the next worker of this ARN.
  void stop();
  worker_stats stats() const;
  const std::string& arn() const { return arn_; }

 private:
  void run();
  // Waits up to d or until stop()/wake(); false when stopping.
  bool sleep(std::chrono::milliseconds d, bool wake_early);
  void failed(const error& e);

  outbox& box_;
  const std::string arn_;
  target_factory make_;
  const worker_options opts_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool woken_ = false;
  bool idle_ = false;          // in the idle wait, which a wake() ends
  target* current_ = nullptr;  // under mu_, for interrupt()
  worker_stats stats_;
  std::chrono::milliseconds backoff_{0};
  std::thread thread_;
};

}  // namespace sluice::events
