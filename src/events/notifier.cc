// The notifier (notifier.h): rules per bucket, the outbox, one delivery
// worker per target, watchers, and the target configuration.
#include "events/notifier.h"

#include <spdlog/spdlog.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <unordered_map>

#include "base/fs.h"
#include "events/target_config.h"
#include "objstore/object_layer.h"

extern char** environ;

namespace sluice::events {

namespace {

// Parsed rule sets kept in memory; past this many buckets the cache starts
// over (rules are re-read from the bucket on the next request).
constexpr size_t kMaxCachedBuckets = 10'000;
// A watcher that falls this many events behind is told so and dropped.
constexpr size_t kWatcherQueue = 1'000;

std::string canonical_arn(const arn& a) {
  return "arn:minio:sqs::" + a.id + ":" + a.type;
}

std::map<std::string, std::string> process_environment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    const size_t eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    if (kv.starts_with("MINIO_NOTIFY_") || kv.starts_with("SLUICE_NOTIFY_")) {
      env.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
    }
  }
  return env;
}

std::string value_of(const kv_map& kvs, const std::string& k) {
  auto it = kvs.find(k);
  return it == kvs.end() ? std::string() : it->second;
}

std::string endpoint_of(target_kind kind, const kv_map& kvs) {
  switch (kind) {
    case target_kind::kafka:
      return value_of(kvs, "brokers") + " topic " + value_of(kvs, "topic");
    case target_kind::webhook:
      return value_of(kvs, "endpoint");
    case target_kind::sluice:
      return "local topic " + value_of(kvs, "topic");
  }
  return {};
}

uint64_t queue_limit_of(const kv_map& kvs) {
  const std::string v = value_of(kvs, "queue_limit");
  return v.empty() ? 0 : std::stoull(v);  // validated: digits only
}

// ListenBucketNotification watchers. Best effort (as MinIO's), never
// silently lossy: a full queue marks the watcher overflowed.
class watcher;
class watcher_hub {
 public:
  void add(watcher* w) {
    std::lock_guard lock(mu_);
    list_.push_back(w);
  }
  void remove(watcher* w) {
    std::lock_guard lock(mu_);
    std::erase(list_, w);
  }
  bool wants(const std::string& bucket, name_mask bit);
  void publish(std::span<const event_args> events);

 private:
  std::mutex mu_;
  std::vector<watcher*> list_;
};

class watcher final : public subscription {
 public:
  watcher(std::shared_ptr<watcher_hub> hub, watch_filter f) : hub_(std::move(hub)), f_(std::move(f)) {
    hub_->add(this);
  }
  ~watcher() override { hub_->remove(this); }

  item next(std::chrono::milliseconds wait) override {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, wait, [&] { return overflowed_ || !queue_.empty(); });
    if (overflowed_) return {std::nullopt, true};
    if (queue_.empty()) return {};
    item it{std::move(queue_.front()), false};
    queue_.pop_front();
    return it;
  }

  bool matches(const std::string& bucket, name_mask bit) const {
    return (f_.bucket.empty() || f_.bucket == bucket) && (f_.events & bit) != 0;
  }
  bool matches(const event_args& e, name_mask bit) const {
    return matches(e.bucket, bit) && e.key.starts_with(f_.prefix) && e.key.ends_with(f_.suffix);
  }
  void push(const std::string& line) {
    {
      std::lock_guard lock(mu_);
      if (queue_.size() >= kWatcherQueue) {
        overflowed_ = true;
      } else {
        queue_.push_back(line);
      }
    }
    cv_.notify_one();
  }

 private:
  std::shared_ptr<watcher_hub> hub_;
  const watch_filter f_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;
  bool overflowed_ = false;
};

bool watcher_hub::wants(const std::string& bucket, name_mask bit) {
  std::lock_guard lock(mu_);
  for (auto* w : list_) {
    if (w->matches(bucket, bit)) return true;
  }
  return false;
}

void watcher_hub::publish(std::span<const event_args> events) {
  std::lock_guard lock(mu_);
  if (list_.empty()) return;
  for (const auto& e : events) {
    auto bit = parse_event_name(e.name);
    if (!bit) continue;
    std::optional<std::string> line;  // built once, for the first watcher that wants it
    for (auto* w : list_) {
      if (!w->matches(e, bit.value())) continue;
      if (!line) line = listen_line(e);
      w->push(*line);
    }
  }
}

}  // namespace

struct notifier::impl {
  notifier_options opts;
  std::unique_ptr<outbox> box;
  std::shared_ptr<watcher_hub> hub = std::make_shared<watcher_hub>();
  std::atomic<bool> stopped{false};

  // Rules per bucket. gen changes with every rules_changed, so that a load
  // racing with a change does not cache the old document.
  std::mutex rules_mu;
  std::unordered_map<std::string, std::shared_ptr<const rule_set>> rules;
  uint64_t rules_gen = 0;

  // Configuration changes are serialised by cfg_mu (held while workers are
  // stopped and started). targets_mu guards what publish/admit read: the
  // configured ARNs and the workers.
  std::mutex cfg_mu;
  std::unique_ptr<config_layers> layers;
  struct running {
    section_id id;
    kv_map kvs;
    std::unique_ptr<delivery_worker> worker;
  };
  std::shared_mutex targets_mu;
  std::map<std::string, running> workers;        // by ARN
  std::map<std::string, std::string> invalid;    // ARN → why its section is not used
  std::map<std::string, uint64_t> queue_limits;  // ARN → queue_limit (0: none), configured targets only

  result<std::shared_ptr<const rule_set>> rules_for(const std::string& bucket);
  result<std::vector<outbox_entry>> route(std::span<const event_args> events, std::set<std::string>& touched);
  void wake(const std::set<std::string>& arns);
  // outbox_full when the outbox, or the queue of one of these targets, is at
  // its limit.
  result<void> room_for(const std::set<std::string>& arns);
  void apply();
  target_factory factory(const section_id& id, const kv_map& kvs) const;
  bool configured(const arn& a);
};

result<std::shared_ptr<const rule_set>> notifier::impl::rules_for(const std::string& bucket) {
  uint64_t gen;
  {
    std::lock_guard lock(rules_mu);
    if (auto it = rules.find(bucket); it != rules.end()) return it->second;
    gen = rules_gen;
  }
  if (!opts.store || bucket.empty()) return std::shared_ptr<const rule_set>();
  auto doc = opts.store->bucket_config(bucket, "notification");
  if (!doc) {
    // No bucket, no rules (not cached: the bucket may be created).
    if (doc.error().is(objstore::errc::bucket_not_found)) return std::shared_ptr<const rule_set>();
    return fail(errc::io_error, "notification rules of bucket " + bucket + ": " + doc.error().message());
  }
  std::shared_ptr<const rule_set> set;
  if (doc.value() && !doc.value()->empty()) {
    // Stored documents were validated when they were put; the targets they
    // name may have been removed since (their events are then not queued,
    // see publish), so that is not checked again here.
    auto parsed = rule_set::parse(
        *doc.value(), [](const arn&) { return true; }, opts.region);
    if (!parsed) {
      return fail(errc::io_error, "stored notification rules of bucket " + bucket +
                                      " do not parse: " + parsed.error().message());
    }
    set = std::make_shared<const rule_set>(std::move(parsed).value());
  }
  std::lock_guard lock(rules_mu);
  if (rules_gen == gen) {
    if (rules.size() >= kMaxCachedBuckets) rules.clear();
    rules[bucket] = set;
  }
  return set;
}

bool notifier::impl::configured(const arn& a) {
  if (!a.region.empty() && a.region != opts.region) return false;
  std::shared_lock lock(targets_mu);
  return queue_limits.contains(canonical_arn(a));
}

target_factory notifier::impl::factory(const section_id& id, const kv_map& kvs) const {
  switch (id.kind) {
    case target_kind::kafka:
      return [kvs] { return make_kafka_target(kvs); };
    case target_kind::webhook:
      return [kvs] { return make_webhook_target(kvs); };
    case target_kind::sluice:
      return [p = opts.producer, topic = value_of(kvs, "topic")]() -> result<std::unique_ptr<target>> {
        return make_local_target(p, topic);
      };
  }
  return {};
}

// Brings the running workers in line with the configuration (cfg_mu held).
// A changed target's worker is stopped before its successor starts, so one
// ARN never has two workers (that would break the order). Its queued events
// stay in the outbox, keyed by ARN, for the successor.
void notifier::impl::apply() {
  std::map<std::string, std::pair<section_id, kv_map>> desired;
  std::map<std::string, std::string> bad;
  for (auto& [id, kvs] : layers->effective()) {
    const std::string a = id.arn();
    if (!section_enabled(kvs)) continue;
    if (id.kind == target_kind::sluice && !opts.producer) {
      bad[a] = "the built-in target needs Sluice's Kafka side (kafka.enabled=true)";
      continue;
    }
    if (auto v = validate_section(id.kind, kvs); !v) {
      bad[a] = "invalid configuration of " + id.str() + ": " + v.error().message();
      continue;
    }
    desired[a] = {id, kvs};
  }
  for (const auto& [a, why] : bad) {
    // Logged once, not on every configuration change. (invalid is only
    // written under cfg_mu, which this holds, so reading it here is safe.)
    if (auto it = invalid.find(a); it == invalid.end() || it->second != why)
      spdlog::error("notify {}: {}", a, why);
  }

  std::vector<std::unique_ptr<delivery_worker>> old;
  {
    std::unique_lock lock(targets_mu);
    for (auto it = workers.begin(); it != workers.end();) {
      auto d = desired.find(it->first);
      if (d == desired.end() || d->second.second != it->second.kvs) {
        old.push_back(std::move(it->second.worker));
        it = workers.erase(it);
      } else {
        ++it;
      }
    }
    // Publishing goes on for every desired target while its worker is
    // replaced: the events wait in the outbox.
    queue_limits.clear();
    for (const auto& [a, d] : desired) queue_limits[a] = queue_limit_of(d.second);
    invalid = std::move(bad);
  }
  for (auto& w : old) w->stop();
  old.clear();
  std::vector<std::string> started;
  std::unique_lock lock(targets_mu);
  for (auto& [a, d] : desired) {
    if (workers.contains(a)) continue;
    auto w = std::make_unique<delivery_worker>(*box, a, factory(d.first, d.second), opts.delivery);
    workers[a] = running{d.first, d.second, std::move(w)};
    started.push_back(a);
  }
  if (!started.empty()) {
    std::string list;
    for (const auto& a : started) list += (list.empty() ? "" : " ") + a;
    spdlog::info("notification targets started: {}", list);
  }
}

notifier::notifier(std::unique_ptr<impl> p) : p_(std::move(p)) {}

notifier::~notifier() {
  stop();
}

result<std::unique_ptr<notifier>> notifier::open(notifier_options opts) {
  auto p = std::make_unique<impl>();
  p->opts = std::move(opts);
  auto& o = p->opts;
  if (o.state_dir.empty()) return fail(errc::bad_config, "notifier: no state directory");
  SLUICE_TRY(p->box, outbox::open(o.state_dir));

  std::vector<config_section> defaults;
  if (o.producer) defaults.push_back({"notify_sluice:1", {{"enable", "on"}, {"topic", "bucket-events"}}});
  std::vector<std::string> unknown_env;
  auto env = sections_from_env(o.environment ? *o.environment : process_environment(), &unknown_env);
  for (const auto& v : unknown_env)
    spdlog::warn("notify: environment variable {} names no known key; ignored", v);
  p->layers = std::make_unique<config_layers>(std::move(defaults), o.config, std::move(env),
                                              fs::join(o.state_dir, "targets.json"));
  for (const auto& why : p->layers->invalid_names()) spdlog::error("notify: configuration section {}", why);
  SLUICE_TRY(p->layers->load());
  {
    std::lock_guard lock(p->cfg_mu);
    p->apply();
  }
  const auto queued = p->box->usage();
  if (queued.events > 0) {
    spdlog::info("notify: {} undelivered events ({} bytes) in the outbox", queued.events, queued.bytes);
  }
  return std::unique_ptr<notifier>(new notifier(std::move(p)));
}

void notifier::stop() {
  if (p_->stopped.exchange(true)) return;
  std::lock_guard cfg(p_->cfg_mu);
  std::map<std::string, impl::running> workers;
  {
    std::unique_lock lock(p_->targets_mu);
    workers.swap(p_->workers);
    p_->queue_limits.clear();
  }
  // Stop every worker first (interrupting all), then wait for each.
  for (auto& [a, r] : workers) r.worker->stop();
  workers.clear();
  p_->box->stop();
}

result<void> notifier::admit(const std::string& bucket) {
  SLUICE_TRY(auto rules, p_->rules_for(bucket));
  if (!rules || rules->empty()) return ok();
  std::set<std::string> arns;
  for (const auto& r : rules->rules()) arns.insert(canonical_arn(r.target));
  return p_->room_for(arns);
}

// Which targets each event goes to: the matching rules' ARNs that are
// configured now. Events for a target that is not configured (removed, or
// never was) are not queued, as in MinIO. Fills `touched` with every ARN.
result<std::vector<outbox_entry>> notifier::impl::route(std::span<const event_args> events,
                                                        std::set<std::string>& touched) {
  std::map<std::string, std::shared_ptr<const rule_set>> by_bucket;
  for (const auto& e : events) {
    if (e.bucket.empty() || by_bucket.contains(e.bucket)) continue;
    SLUICE_TRY(by_bucket[e.bucket], rules_for(e.bucket));
  }
  std::vector<outbox_entry> entries;
  std::shared_lock lock(targets_mu);
  for (const auto& e : events) {
    auto it = by_bucket.find(e.bucket);
    if (it == by_bucket.end() || !it->second || it->second->empty()) continue;
    std::vector<std::string> arns;
    for (const auto& a : it->second->match(e.name, e.key)) {
      if (!a.region.empty() && a.region != opts.region) continue;
      std::string c = canonical_arn(a);
      if (queue_limits.contains(c)) arns.push_back(std::move(c));
    }
    if (arns.empty()) continue;
    touched.insert(arns.begin(), arns.end());
    entries.push_back(outbox_entry{std::move(arns), message_key(e), message_value(e)});
  }
  return entries;
}

result<void> notifier::impl::room_for(const std::set<std::string>& arns) {
  if (const auto u = box->usage(); u.bytes >= opts.outbox_limit_bytes) {
    return fail(errc::outbox_full, "the event outbox holds " + std::to_string(u.bytes) + " bytes (limit " +
                                       std::to_string(opts.outbox_limit_bytes) +
                                       "): requests on buckets with notification rules wait until the "
                                       "targets catch up (sluice admin notify list)");
  }
  std::shared_lock lock(targets_mu);
  for (const auto& a : arns) {
    auto it = queue_limits.find(a);
    if (it == queue_limits.end() || it->second == 0) continue;
    if (const auto u = box->usage(a); u.events >= it->second) {
      return fail(errc::outbox_full, a + " has " + std::to_string(u.events) +
                                         " undelivered events (queue_limit " + std::to_string(it->second) +
                                         "): requests that raise its events wait "
                                         "until it catches up");
    }
  }
  return ok();
}

void notifier::impl::wake(const std::set<std::string>& arns) {
  std::shared_lock lock(targets_mu);
  for (const auto& a : arns) {
    if (auto it = workers.find(a); it != workers.end()) it->second.worker->wake();
  }
}

result<void> notifier::publish(std::span<const event_args> events) {
  if (p_->stopped) return fail(errc::closed, "notifier stopped");
  p_->hub->publish(events);
  std::set<std::string> touched;
  SLUICE_TRY(auto entries, p_->route(events, touched));
  if (entries.empty()) return ok();
  // Reads are not admitted beforehand (admit() is for writes), so the
  // outbox's limits are checked here: at a limit the read is refused (S3
  // SlowDown) rather than its event dropped or the outbox let grow.
  const bool reads_only = std::all_of(events.begin(), events.end(), [](const event_args& e) {
    return std::string_view(e.name).starts_with("s3:ObjectAccessed:");
  });
  if (reads_only) {
    SLUICE_TRY(p_->room_for(touched));
  }
  // With notify.queue.read.events the events of reads are queued for the
  // next commit and the read is answered without waiting for its fsync
  // (docs/NOTIFICATIONS.md).
  if (reads_only && p_->opts.queue_read_events) {
    // The delivery threads are woken once the rows are readable; the
    // notifier's impl outlives the outbox's writer (stop() stops it last).
    SLUICE_TRY(p_->box->append_queued(std::move(entries),
                                      [p = p_.get(), touched = std::move(touched)] { p->wake(touched); }));
    return ok();
  }
  SLUICE_TRY(p_->box->append(entries));
  p_->wake(touched);
  return ok();
}

namespace {

class prepared final : public prepared_events {
 public:
  prepared(notifier::impl& p, std::vector<event_args> events, std::shared_ptr<outbox::ticket> ticket,
           std::set<std::string> touched)
      : p_(p), events_(std::move(events)), ticket_(std::move(ticket)), touched_(std::move(touched)) {}
  ~prepared() override {
    if (ticket_) (void)p_.box->end_append(*ticket_, false);
  }

  result<void> commit() override {
    if (ticket_) {
      auto t = std::move(ticket_);
      SLUICE_TRY(p_.box->end_append(*t, true));
      p_.wake(touched_);
    }
    p_.hub->publish(events_);
    return ok();
  }

 private:
  notifier::impl& p_;
  std::vector<event_args> events_;
  std::shared_ptr<outbox::ticket> ticket_;  // null: no target wants these events
  std::set<std::string> touched_;
};

}  // namespace

result<std::unique_ptr<prepared_events>> notifier::prepare(std::vector<event_args> events) {
  if (p_->stopped) return fail(errc::closed, "notifier stopped");
  std::set<std::string> touched;
  SLUICE_TRY(auto entries, p_->route(events, touched));
  std::shared_ptr<outbox::ticket> ticket;
  if (!entries.empty()) {
    SLUICE_TRY(ticket, p_->box->begin_append(std::move(entries)));
  }
  return std::unique_ptr<prepared_events>(
      std::make_unique<prepared>(*p_, std::move(events), std::move(ticket), std::move(touched)));
}

bool notifier::wants(const std::string& bucket, std::string_view event_name) {
  auto bit = parse_event_name(event_name);
  if (!bit) return false;
  if (p_->hub->wants(bucket, bit.value())) return true;
  auto rules = p_->rules_for(bucket);
  // When the rules cannot be read, build the event: publish reports the error.
  if (!rules) return true;
  return rules.value() && rules.value()->wants(event_name);
}

result<std::string> notifier::validate_rules(std::string_view xml) {
  SLUICE_TRY(auto set, rule_set::parse(
                           xml, [this](const arn& a) { return p_->configured(a); }, p_->opts.region));
  return set.to_xml();
}

void notifier::rules_changed(const std::string& bucket) {
  std::lock_guard lock(p_->rules_mu);
  p_->rules.erase(bucket);
  ++p_->rules_gen;
}

std::unique_ptr<subscription> notifier::subscribe(const watch_filter& filter) {
  return std::make_unique<watcher>(p_->hub, filter);
}

std::vector<target_status> notifier::targets() {
  std::vector<target_status> out;
  auto queued = p_->box->usage_by_target();
  std::shared_lock lock(p_->targets_mu);
  for (const auto& [a, r] : p_->workers) {
    const auto st = r.worker->stats();
    target_status s;
    s.arn = a;
    s.type = std::string(kind_name(r.id.kind));
    s.endpoint = endpoint_of(r.id.kind, r.kvs);
    s.online = st.online;
    s.queued = queued.contains(a) ? queued[a].events : 0;
    s.delivered = st.delivered;
    s.failed_attempts = st.failed_attempts;
    s.last_error = st.last_error;
    out.push_back(std::move(s));
  }
  // Sections that could not be used, and events of targets that are no
  // longer configured: listed so that nothing waits unseen.
  for (const auto& [a, why] : p_->invalid) {
    target_status s;
    s.arn = a;
    s.type = a.substr(a.rfind(':') + 1);
    s.queued = queued.contains(a) ? queued[a].events : 0;
    s.last_error = why;
    out.push_back(std::move(s));
  }
  for (const auto& [a, u] : queued) {
    if (p_->workers.contains(a) || p_->invalid.contains(a)) continue;
    target_status s;
    s.arn = a;
    s.type = a.substr(a.rfind(':') + 1);
    s.queued = u.events;
    s.last_error = "not configured: its queued events are kept until it is configured again";
    out.push_back(std::move(s));
  }
  return out;
}

result<std::vector<config_section>> notifier::get_config(std::string_view name) {
  SLUICE_TRY(auto want, parse_section(name, true));
  std::lock_guard lock(p_->cfg_mu);
  std::vector<config_section> out;
  for (const auto& [id, kvs] : p_->layers->effective()) {
    if (id.kind != want.kind || (!want.id.empty() && id.id != want.id)) continue;
    config_section s{id.str(), {}};
    for (const auto& [k, v] : kvs)
      s.kvs.emplace_back(k, is_secret_key(k) && !v.empty() ? std::string(kRedacted) : v);
    out.push_back(std::move(s));
  }
  if (out.empty() && !want.id.empty()) return fail(errc::unknown_target, "no section " + want.str());
  return out;
}

result<void> notifier::set_config(const config_section& section) {
  SLUICE_TRY(auto id, parse_section(section.name));
  kv_map kvs;
  for (const auto& [k, v] : section.kvs) {
    // A secret shown redacted by get and sent back unchanged keeps its value.
    if (is_secret_key(k) && v == kRedacted) continue;
    kvs[k] = v;
  }
  if (kvs.empty() && section.kvs.empty()) return fail(errc::bad_config, "nothing to set for " + id.str());
  std::lock_guard lock(p_->cfg_mu);
  if (p_->stopped) return fail(errc::closed, "notifier stopped");
  SLUICE_TRY(p_->layers->set(id, kvs, static_cast<bool>(p_->opts.producer)));
  p_->apply();
  return ok();
}

result<void> notifier::reset_config(std::string_view name) {
  SLUICE_TRY(auto id, parse_section(name));
  std::lock_guard lock(p_->cfg_mu);
  if (p_->stopped) return fail(errc::closed, "notifier stopped");
  SLUICE_TRY(p_->layers->reset(id));
  p_->apply();
  return ok();
}

}  // namespace sluice::events
