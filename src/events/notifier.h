#pragma once
// The notifier: Sluice's implementation of events::sink. It routes each
// event of an S3 request by its bucket's rules into the durable outbox
// before the request is answered, and delivers it from there to the targets
// (the built-in stream engine, external Kafka, webhooks) on one thread per
// target. Design and guarantees: docs/NOTIFICATIONS.md.
//
// Threading: every method may be called from any thread. stop() (also run
// by the destructor) stops the delivery threads and the outbox writer; later
// publish calls fail with errc::closed.
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "events/sink.h"
#include "events/target.h"

namespace sluice::objstore {
class object_layer;
}

namespace sluice::events {

struct notifier_options {
  // Holds outbox.db (the outbox) and targets.json (admin configuration
  // changes). Created when missing. E.g. <drive>/.sluice.sys/events.
  std::string state_dir;
  // At or above this many bytes of queued events, admit() refuses requests
  // on buckets that have rules (S3 503 SlowDown) until targets catch up.
  uint64_t outbox_limit_bytes = 1ull << 30;
  // Events of reads (s3:ObjectAccessed:*): false (the default) commits them
  // before the read is answered, like every other event; true queues them
  // for the outbox's next commit and answers at once (outbox::append_queued),
  // so a crash can lose the events of the last milliseconds of reads.
  bool queue_read_events = false;
  // The server's region: ARNs in rules may name it or leave it empty.
  std::string region = "us-east-1";
  // Where the buckets' rule documents are (bucket_config(bucket,
  // "notification")); not owned, must outlive the notifier. Null: no bucket
  // has rules (tests of the watcher path).
  objstore::object_layer* store = nullptr;
  // Target sections from the server's configuration file, e.g.
  // {"notify_kafka:1", {{"brokers", "h:9092"}, {"topic", "t"}}}.
  std::vector<config_section> config;
  // The environment to read MINIO_NOTIFY_* / SLUICE_NOTIFY_* from; nullopt:
  // the process environment.
  std::optional<std::map<std::string, std::string>> environment;
  // The built-in target's way into the local stream engine. Empty: there is
  // no built-in target (no default notify_sluice:1, and notify_sluice
  // sections are rejected).
  local_producer producer;
  // Delivery tuning (tests shorten the backoff).
  worker_options delivery;
};

class notifier final : public sink {
 public:
  // Opens the outbox (what it holds is delivered again from the start),
  // loads the target configuration and starts a delivery thread per enabled
  // target. Targets connect in the background: unreachable brokers do not
  // fail open. Fails on an unusable state dir or an invalid persisted
  // configuration; invalid sections from the config file or environment are
  // logged and listed by targets() with their error instead.
  static result<std::unique_ptr<notifier>> open(notifier_options opts);
  ~notifier() override;

  void stop();

  // sink
  result<void> admit(const std::string& bucket) override;
  result<void> publish(std::span<const event_args> events) override;
  result<std::unique_ptr<prepared_events>> prepare(std::vector<event_args> events) override;
  bool wants(const std::string& bucket, std::string_view event_name) override;
  result<std::string> validate_rules(std::string_view xml) override;
  void rules_changed(const std::string& bucket) override;
  std::unique_ptr<subscription> subscribe(const watch_filter& filter) override;
  std::vector<target_status> targets() override;
  result<std::vector<config_section>> get_config(std::string_view name) override;
  result<void> set_config(const config_section& section) override;
  result<void> reset_config(std::string_view name) override;

  struct impl;

 private:
  explicit notifier(std::unique_ptr<impl> p);
  std::unique_ptr<impl> p_;
};

}  // namespace sluice::events
