#pragma once
// What a worker does with one Kafka message, and what the consumer loop
// (consumer.h) does with the answer.
#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/time.h"

namespace sluice::worker {

// One Kafka message, copied out of librdkafka.
struct message {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  std::string key;
  std::string value;
  std::vector<std::pair<std::string, std::string>> headers;
  int64_t timestamp_ms = -1;  // the message's timestamp, -1 when unknown
};

enum class verdict {
  done,         // results are durable: the offset may be committed
  skipped,      // nothing to do (not an event of interest, our own output, object gone): commit
  dead_letter,  // can never succeed (undecodable, too large, bad event): to the DLQ, then commit
  transient,    // try again after a backoff, for as long as the worker runs (S3 or Kafka unavailable)
  failed,       // try again after a backoff, at most max_attempts times in all, then to the DLQ
};

struct outcome {
  verdict what = verdict::done;
  // dead_letter/failed: a short machine-readable reason ("undecodable",
  // "too_large", "bad_event", "command_failed", ...); skipped: why.
  std::string reason;
  std::string detail;  // for humans: the error message, what was written, ...
  // When the event happened (the S3 request), for the latency metric.
  std::optional<sys_time> event_time;
  uint64_t outputs = 0;  // objects written
  bool quiet = false;    // skipped: log at debug level only (events of no interest)

  static outcome ok(std::string detail = {}) { return {verdict::done, {}, std::move(detail)}; }
  static outcome skip(std::string why, bool quiet = false) {
    outcome o{verdict::skipped, std::move(why), {}};
    o.quiet = quiet;
    return o;
  }
  static outcome dead(std::string reason, std::string detail) {
    return {verdict::dead_letter, std::move(reason), std::move(detail)};
  }
  static outcome again(std::string detail) { return {verdict::transient, "transient", std::move(detail)}; }
  static outcome failure(std::string reason, std::string detail) {
    return {verdict::failed, std::move(reason), std::move(detail)};
  }
};

// A worker's per-message logic. handle() runs on the consumer's processing
// threads, for several messages at once (never two messages with the same
// key at once). It must return soon after `stop` becomes true (it may then
// return transient: the message is redelivered to the next worker).
class handler {
 public:
  virtual ~handler() = default;
  // attempt: 1 for the first try of this message.
  virtual outcome handle(const message& m, int attempt, const std::atomic<bool>& stop) = 0;
  // Called once on every processing thread before it exits.
  virtual void thread_exit() {}
};

struct object_event;

// The usual handle(): parses the message as a bucket event (dead letter
// `bad_event` when it is not one) and runs `one` per record, in order. The
// first record that is not done or skipped decides the message's outcome;
// otherwise it is done when any record was, else skipped.
outcome for_each_record(const message& m, const std::function<outcome(const object_event&)>& one);

}  // namespace sluice::worker
