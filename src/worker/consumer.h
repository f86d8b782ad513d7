#pragma once
// The consumer loop every worker runs: a Kafka consumer group member
// (librdkafka) that hands each message of one topic to a handler on a pool of
// processing threads and commits offsets only once results are durable.
//
// Delivery (src/worker/README.md): at-least-once. Auto-commit is off; a
// partition's offset is committed (every commit_interval, on revocation and
// on stop) only past messages that finished — done, skipped, or delivered to
// the dead-letter topic — and past every message before them. A crash
// therefore redelivers at most the messages in flight plus those finished
// since the last commit.
//
// Concurrency: up to `concurrency` messages are processed at once and at most
// `max_in_flight` are taken from Kafka before one finishes; messages with the
// same Kafka key (MinIO's "bucket/key") are processed one after another, in
// offset order, so two events of one object never race.
//
// Failures: a handler answers transient (retried with exponential backoff
// for as long as the worker runs), failed (retried, then dead-lettered after
// max_attempts attempts) or dead_letter (at once). A dead-letter record goes
// to `dlq_topic` (default "<topic>-dlq"): the original key, the original
// headers plus x-sluice-dlq-* headers, and a JSON value with the reason and
// the original event.
//
// Threading: run() blocks the calling thread (it polls Kafka and commits);
// stop() may be called from any thread, run() then stops taking messages,
// waits up to drain_timeout for those in flight, commits, leaves the group
// and returns. Rebalances wait the same way for the revoked partitions.
#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"
#include "worker/handler.h"
#include "worker/metrics.h"

namespace sluice::worker {

struct consumer_options {
  std::string brokers = "127.0.0.1:9092";
  std::string topic;
  std::string group;
  std::string dlq_topic;               // empty: "<topic>-dlq"
  std::string worker_name = "worker";  // in logs and dead-letter records
  // Where a group without committed offsets starts: "earliest" or "latest".
  std::string start_from = "earliest";
  // Extra librdkafka properties (security.protocol, sasl.*, ...), applied to
  // the consumer and the dead-letter producer after Sluice's own settings.
  std::vector<std::pair<std::string, std::string>> kafka_properties;
  int concurrency = 4;
  int max_in_flight = 0;  // 0: 2 × concurrency
  int max_attempts = 3;   // attempts of a `failed` message before the DLQ
  std::chrono::milliseconds retry_backoff{500};
  std::chrono::milliseconds retry_backoff_max{30'000};
  std::chrono::milliseconds commit_interval{1'000};
  std::chrono::milliseconds summary_interval{10'000};
  // How long stop() and a revocation wait for in-flight messages before
  // telling their handlers to give up (those messages are redelivered).
  std::chrono::milliseconds drain_timeout{30'000};
  // librdkafka's max.poll.interval.ms: must exceed the longest a message may
  // take (a command timeout, the S3 client's retries).
  std::chrono::milliseconds max_poll_interval{300'000};
};

class consumer {
 public:
  // Fails with errc::bad_argument / kafka_error for unusable options
  // (librdkafka rejects a property, no topic or group).
  static result<std::unique_ptr<consumer>> make(consumer_options opts, std::shared_ptr<handler> h,
                                                std::shared_ptr<metrics> m);
  ~consumer();
  consumer(const consumer&) = delete;
  consumer& operator=(const consumer&) = delete;

  // Subscribes and processes until stop(); returns once in-flight messages
  // finished (or were given up), offsets are committed and the group left.
  result<void> run();
  void stop();

  const consumer_options& options() const;

 private:
  struct impl;
  explicit consumer(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

// The dead-letter record's JSON value (exposed for tests):
// {"reason":…,"error":…,"worker":…,"attempts":N,"time":"2026-…Z",
//  "source":{"topic":…,"partition":N,"offset":N,"key":…},
//  "event":<the original value as JSON> | "event_base64":"…" (when not JSON)}
// Originals above 256 KiB are left out ("event_truncated":true).
std::string dead_letter_value(const message& m, const std::string& worker, const std::string& reason,
                              const std::string& error, int attempts);

}  // namespace sluice::worker
