#pragma once
// What the S3 front end needs from bucket notifications. events::notifier
// implements it; the s3 module sees only this interface (and may run without
// one: then no events are raised and notification rules cannot name targets).
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"
#include "events/errc.h"
#include "events/event.h"
#include "events/rules.h"

namespace sluice::events {

// A ListenBucketNotification watcher's feed. Best effort by design (as in
// MinIO), but never silently lossy: when the watcher falls more than its
// queue behind, next() reports `overflowed` and the S3 handler ends the
// stream, so the client knows to reconnect.
class subscription {
 public:
  virtual ~subscription() = default;
  struct item {
    std::optional<std::string> line;  // one {"Records":[…]} JSON line (no newline), when an event came
    bool overflowed = false;
  };
  // Waits up to `wait` for the next event.
  virtual item next(std::chrono::milliseconds wait) = 0;
};

struct watch_filter {
  std::string bucket;  // empty: every bucket (GET /?events=…)
  name_mask events = 0;
  std::string prefix, suffix;
};

// A notification target as `sluice admin notify list` shows it.
struct target_status {
  std::string arn;
  std::string type;      // kafka | webhook | sluice
  std::string endpoint;  // brokers / URL / topic, for people
  bool online = false;
  uint64_t queued = 0;     // durable, not yet delivered
  uint64_t delivered = 0;  // since start
  uint64_t failed_attempts = 0;
  std::string last_error;
};

// One configuration section, e.g. {"notify_kafka:1", {{"brokers","h:9092"},{"topic","t"}}}.
struct config_section {
  std::string name;
  std::vector<std::pair<std::string, std::string>> kvs;
};

// The events of a change that is still being committed (sink::prepare).
// Destroying it without commit() means the change failed: its events are
// dropped, nobody sees them.
class prepared_events {
 public:
  virtual ~prepared_events() = default;
  // The change landed: returns once the events are durable in the outbox;
  // from then on they are delivered and watchers see them. At most once.
  virtual result<void> commit() = 0;
};

class sink {
 public:
  virtual ~sink() = default;

  // Called before an operation on `bucket` that may raise events. Fails with
  // errc::outbox_full (S3 503 SlowDown, nothing done) when the bucket has
  // rules and the outbox is at its limit; otherwise ok.
  virtual result<void> admit(const std::string& bucket) = 0;
  // Routes events by their bucket's rules. Returns once every matching
  // target's copy is durable in the outbox (the S3 answer is sent after this);
  // also feeds matching watchers. Never blocks on a target.
  virtual result<void> publish(std::span<const event_args> events) = 0;
  // publish in two steps, for a change not yet committed: routes the events
  // and starts writing them to the outbox, returning at once, so that the
  // outbox's fsync runs while the caller commits the change. The caller then
  // commits the returned handle (change landed) or drops it (change failed).
  // After a crash, events of changes that were in flight may be delivered
  // although the change did not land (docs/NOTIFICATIONS.md).
  virtual result<std::unique_ptr<prepared_events>> prepare(std::vector<event_args> events) = 0;
  // Whether any rule of `bucket` or any watcher wants events of this name:
  // lets handlers skip building event_args (e.g. for GET) when nobody listens.
  virtual bool wants(const std::string& bucket, std::string_view event_name) = 0;

  // PutBucketNotificationConfiguration: validates the document against the
  // configured targets and returns the normalised document to store.
  virtual result<std::string> validate_rules(std::string_view xml) = 0;
  // The stored document of `bucket` changed or the bucket was deleted.
  virtual void rules_changed(const std::string& bucket) = 0;

  // ListenBucketNotification.
  virtual std::unique_ptr<subscription> subscribe(const watch_filter& filter) = 0;

  // Admin API: targets with their state; configuration sections of a
  // subsystem ("notify_kafka", "notify_webhook", "notify_sluice") or one
  // section ("notify_kafka:1"); set (merged into the section, applied without
  // a restart) and reset (the section removed, its target stopped).
  virtual std::vector<target_status> targets() = 0;
  virtual result<std::vector<config_section>> get_config(std::string_view name) = 0;
  virtual result<void> set_config(const config_section& section) = 0;
  virtual result<void> reset_config(std::string_view name) = 0;
};

}  // namespace sluice::events
