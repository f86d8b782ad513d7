// The notifier end to end, with a real local_store for the buckets' rules and
// a fake local_producer as the built-in target.
#include "events/notifier.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "base/crypto.h"
#include "http/server.h"
#include "objstore/local_store.h"
#include "objstore/object_layer.h"

namespace sluice::events {
namespace {

using namespace std::chrono_literals;

constexpr const char* kBuiltin = "arn:minio:sqs::1:sluice";

// Records what the built-in target appended; fails as told.
struct fake_producer {
  struct msg {
    std::string topic;
    local_message m;
  };
  std::mutex mu;
  std::condition_variable cv;
  std::vector<msg> got;
  int fail_calls = 0;
  bool fail_always = false;
  int calls = 0;

  local_producer fn() {
    return [this](const std::string& topic, std::span<const local_message> msgs) -> result<void> {
      std::lock_guard lock(mu);
      ++calls;
      if (fail_always || fail_calls > 0) {
        if (fail_calls > 0) --fail_calls;
        return fail(std::make_error_code(std::errc::host_unreachable), "stream engine unavailable");
      }
      for (const auto& m : msgs) got.push_back({topic, m});
      cv.notify_all();
      return ok();
    };
  }
  bool wait_for(size_t n, std::chrono::seconds limit = 10s) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, limit, [&] { return got.size() >= n; });
  }
  void set_fail_always(bool v) {
    std::lock_guard lock(mu);
    fail_always = v;
  }
  std::vector<std::string> keys() {
    std::lock_guard lock(mu);
    std::vector<std::string> out;
    for (const auto& g : got) out.push_back(g.m.key);
    return out;
  }
};

std::string rules_xml(const std::string& arn, const std::string& suffix = ".jpg",
                      const std::string& event = "s3:ObjectCreated:*") {
  return "<NotificationConfiguration><QueueConfiguration><Id>1</Id><Queue>" + arn + "</Queue><Event>" +
         event + "</Event><Filter><S3Key><FilterRule><Name>suffix</Name><Value>" + suffix +
         "</Value></FilterRule></S3Key></Filter></QueueConfiguration></NotificationConfiguration>";
}

event_args put_event(const std::string& bucket, const std::string& key,
                     const std::string& name = "s3:ObjectCreated:Put") {
  event_args e;
  e.name = name;
  e.bucket = bucket;
  e.key = key;
  e.size = 10;
  e.etag = "0123456789abcdef0123456789abcdef";
  e.request_id = "REQ";
  return e;
}

class Notifier : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::temp_directory_path() / ("sluice-notifier-" + random_token(8));
    auto s = objstore::open_local_store({(root_ / "drive").string()});
    ASSERT_TRUE(s) << s.error().message();
    store_ = std::move(s).value();
    ASSERT_TRUE(store_->make_bucket("images", "owner"));
    ASSERT_TRUE(store_->make_bucket("plain", "owner"));
    producer_ = std::make_shared<fake_producer>();
  }
  void TearDown() override {
    n_.reset();
    store_.reset();
    std::filesystem::remove_all(root_);
  }

  notifier_options options() {
    notifier_options o;
    o.state_dir = (root_ / "events").string();
    o.store = store_.get();
    o.environment = std::map<std::string, std::string>{};
    o.producer = producer_->fn();
    o.delivery.min_backoff = 5ms;
    o.delivery.max_backoff = 20ms;
    return o;
  }
  void open(notifier_options o) {
    n_.reset();
    auto n = notifier::open(std::move(o));
    ASSERT_TRUE(n) << n.error().message();
    n_ = std::move(n).value();
  }
  // What PutBucketNotificationConfiguration does.
  void put_rules(const std::string& bucket, const std::string& xml) {
    auto doc = n_->validate_rules(xml);
    ASSERT_TRUE(doc) << doc.error().message();
    ASSERT_TRUE(store_->set_bucket_config(bucket, "notification", doc.value()));
    n_->rules_changed(bucket);
  }
  void publish(std::vector<event_args> events) {
    auto r = n_->publish(events);
    ASSERT_TRUE(r) << r.error().message();
  }
  std::optional<target_status> status(const std::string& arn) {
    for (auto& t : n_->targets()) {
      if (t.arn == arn) return t;
    }
    return std::nullopt;
  }
  template <class F>
  static bool eventually(F f, std::chrono::milliseconds limit = 10s) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
      if (f()) return true;
      std::this_thread::sleep_for(5ms);
    }
    return f();
  }

  std::filesystem::path root_;
  std::unique_ptr<objstore::object_layer> store_;
  std::shared_ptr<fake_producer> producer_;
  std::unique_ptr<notifier> n_;
};

TEST_F(Notifier, RoutesByRulesToTheBuiltinTarget) {
  open(options());
  put_rules("images", rules_xml(kBuiltin));
  EXPECT_TRUE(n_->wants("images", "s3:ObjectCreated:Put"));
  EXPECT_FALSE(n_->wants("images", "s3:ObjectAccessed:Get"));
  EXPECT_FALSE(n_->wants("plain", "s3:ObjectCreated:Put"));
  ASSERT_TRUE(n_->admit("images"));
  publish({put_event("images", "rose.jpg"), put_event("images", "deeper/path/rose.jpg"),
           put_event("images", "rose.png"), put_event("plain", "x.jpg")});
  ASSERT_TRUE(producer_->wait_for(2));
  std::this_thread::sleep_for(50ms);
  std::lock_guard lock(producer_->mu);
  ASSERT_EQ(producer_->got.size(), 2u);
  const auto& m = producer_->got[0];
  EXPECT_EQ(m.topic, "bucket-events");
  EXPECT_EQ(m.m.key, "images/rose.jpg");
  EXPECT_NE(m.m.value.find("\"EventName\":\"s3:ObjectCreated:Put\""), std::string::npos) << m.m.value;
  ASSERT_EQ(m.m.headers.size(), 1u);
  EXPECT_EQ(m.m.headers[0].first, "x-sluice-event-id");
  EXPECT_FALSE(m.m.headers[0].second.empty());
  EXPECT_NE(m.m.headers[0].second, producer_->got[1].m.headers[0].second);
  EXPECT_EQ(producer_->got[1].m.key, "images/deeper/path/rose.jpg");
}

TEST_F(Notifier, ValidatesRuleTargets) {
  open(options());
  EXPECT_TRUE(n_->validate_rules(rules_xml("arn:minio:sqs::1:sluice")));
  EXPECT_TRUE(n_->validate_rules(rules_xml("arn:minio:sqs:us-east-1:1:sluice")));
  auto r = n_->validate_rules(rules_xml("arn:minio:sqs::9:sluice"));
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(errc::arn_not_found));
  r = n_->validate_rules(rules_xml("arn:minio:sqs::1:kafka"));
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(errc::arn_not_found));
  r = n_->validate_rules(rules_xml("arn:minio:sqs:eu-west-1:1:sluice"));
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(errc::arn_wrong_region));
}

TEST_F(Notifier, NoBuiltinTargetWithoutAProducer) {
  auto o = options();
  o.producer = nullptr;
  open(std::move(o));
  EXPECT_TRUE(n_->targets().empty());
  EXPECT_FALSE(n_->validate_rules(rules_xml(kBuiltin)));
  auto r = n_->set_config({"notify_sluice:1", {{"topic", "t"}}});
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(errc::bad_config));
}

TEST_F(Notifier, RetriesAFailingTargetInOrder) {
  producer_->fail_calls = 3;
  open(options());
  put_rules("images", rules_xml(kBuiltin, ".jpg", "s3:ObjectCreated:*"));
  std::vector<std::string> want;
  for (int i = 0; i < 30; ++i) {
    publish({put_event("images", "k" + std::to_string(i) + ".jpg")});
    want.push_back("images/k" + std::to_string(i) + ".jpg");
  }
  ASSERT_TRUE(producer_->wait_for(30));
  EXPECT_EQ(producer_->keys(), want);
  auto st = status(kBuiltin);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->failed_attempts, 3u);
  EXPECT_TRUE(eventually([&] { return status(kBuiltin)->queued == 0; }));
  EXPECT_EQ(status(kBuiltin)->delivered, 30u);
  EXPECT_TRUE(status(kBuiltin)->online);
  EXPECT_EQ(status(kBuiltin)->type, "sluice");
  EXPECT_EQ(status(kBuiltin)->endpoint, "local topic bucket-events");
}

TEST_F(Notifier, RefusesWritesAtTheOutboxLimitAndNeverDrops) {
  producer_->fail_always = true;
  auto o = options();
  o.outbox_limit_bytes = 1;
  open(std::move(o));
  put_rules("images", rules_xml(kBuiltin));
  ASSERT_TRUE(n_->admit("images"));
  publish({put_event("images", "a.jpg")});
  auto r = n_->admit("images");
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(errc::outbox_full));
  EXPECT_TRUE(n_->admit("plain"));  // a bucket without rules is not affected
  // An event of an admitted request is still accepted.
  publish({put_event("images", "b.jpg")});
  EXPECT_EQ(status(kBuiltin)->queued, 2u);
  // The target goes offline when its delivery thread's first attempt fails,
  // which may come after the publishes on a busy machine.
  EXPECT_TRUE(eventually([&] { return !status(kBuiltin)->online; }));
  producer_->set_fail_always(false);
  ASSERT_TRUE(producer_->wait_for(2));
  EXPECT_TRUE(eventually([&] { return static_cast<bool>(n_->admit("images")); }));
  EXPECT_EQ(producer_->keys(), (std::vector<std::string>{"images/a.jpg", "images/b.jpg"}));
}

// Reads are not admitted beforehand: at the limit, a read whose event a
// rule wants is refused when it publishes, its event neither dropped nor
// added past the limit; reads no rule wants are not affected.
TEST_F(Notifier, RefusesReadsAtTheOutboxLimitAndNeverDrops) {
  producer_->fail_always = true;
  auto o = options();
  o.outbox_limit_bytes = 1;
  open(std::move(o));
  put_rules("images", rules_xml(kBuiltin, ".jpg", "s3:ObjectAccessed:*"));
  publish({put_event("images", "a.jpg", "s3:ObjectAccessed:Get")});
  auto r = n_->publish(std::vector<event_args>{put_event("images", "b.jpg", "s3:ObjectAccessed:Head")});
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(errc::outbox_full));
  EXPECT_TRUE(n_->publish(std::vector<event_args>{put_event("images", "b.png", "s3:ObjectAccessed:Get")}));
  EXPECT_EQ(status(kBuiltin)->queued, 1u);
  producer_->set_fail_always(false);
  ASSERT_TRUE(producer_->wait_for(1));
  EXPECT_TRUE(eventually([&] {
    return static_cast<bool>(
        n_->publish(std::vector<event_args>{put_event("images", "c.jpg", "s3:ObjectAccessed:Get")}));
  }));
  ASSERT_TRUE(producer_->wait_for(2));
  EXPECT_EQ(producer_->keys(), (std::vector<std::string>{"images/a.jpg", "images/c.jpg"}));
}

// Both ways of committing the events of reads deliver them, in order with
// the events of writes.
TEST_F(Notifier, EventsOfReadsAreDeliveredWhetherCommittedBeforeOrAfterTheAnswer) {
  for (bool queued : {false, true}) {
    SCOPED_TRACE(queued ? "queued" : "committed before the answer");
    auto o = options();
    o.queue_read_events = queued;
    open(std::move(o));
    put_rules("images", rules_xml(kBuiltin, ".jpg", "s3:ObjectAccessed:*"));
    const std::string k = queued ? "q" : "c";
    publish({put_event("images", k + "1.jpg", "s3:ObjectAccessed:Get")});
    publish({put_event("images", k + "2.jpg", "s3:ObjectAccessed:Head")});
    ASSERT_TRUE(producer_->wait_for(queued ? 4 : 2));
    n_->stop();
  }
  EXPECT_EQ(producer_->keys(),
            (std::vector<std::string>{"images/c1.jpg", "images/c2.jpg", "images/q1.jpg", "images/q2.jpg"}));
}

TEST_F(Notifier, QueueLimitCapsOneTarget) {
  producer_->fail_always = true;
  open(options());
  ASSERT_TRUE(n_->set_config({"notify_sluice:1", {{"queue_limit", "2"}}}));
  put_rules("images", rules_xml(kBuiltin));
  publish({put_event("images", "a.jpg")});
  ASSERT_TRUE(n_->admit("images"));
  publish({put_event("images", "b.jpg")});
  auto r = n_->admit("images");
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(errc::outbox_full));
  EXPECT_NE(r.error().message().find(kBuiltin), std::string::npos) << r.error().message();
}

TEST_F(Notifier, QueuedEventsSurviveARestart) {
  producer_->fail_always = true;
  open(options());
  put_rules("images", rules_xml(kBuiltin));
  publish({put_event("images", "a.jpg"), put_event("images", "b.jpg")});
  n_->stop();
  EXPECT_FALSE(n_->publish(std::vector<event_args>{put_event("images", "c.jpg")}));
  producer_->set_fail_always(false);
  open(options());
  ASSERT_TRUE(producer_->wait_for(2));
  EXPECT_EQ(producer_->keys(), (std::vector<std::string>{"images/a.jpg", "images/b.jpg"}));
}

TEST_F(Notifier, ReconfigurationKeepsQueuedEvents) {
  producer_->fail_always = true;
  open(options());
  put_rules("images", rules_xml(kBuiltin));
  publish({put_event("images", "a.jpg"), put_event("images", "b.jpg")});
  // A new topic: the target is rebuilt, its queued events go to the new topic.
  ASSERT_TRUE(n_->set_config({"notify_sluice:1", {{"topic", "other"}}}));
  publish({put_event("images", "c.jpg")});
  // Reset: the target goes away, its events stay (listed), new ones are not queued.
  ASSERT_TRUE(n_->reset_config("notify_sluice:1"));
  auto st = status(kBuiltin);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->queued, 3u);
  EXPECT_NE(st->last_error.find("not configured"), std::string::npos);
  EXPECT_FALSE(n_->validate_rules(rules_xml(kBuiltin)));
  publish({put_event("images", "dropped.jpg")});
  // Configured again (and the stream engine back): everything queued arrives, in order.
  producer_->set_fail_always(false);
  ASSERT_TRUE(n_->set_config({"notify_sluice:1", {{"topic", "again"}}}));
  ASSERT_TRUE(producer_->wait_for(3));
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(producer_->keys(), (std::vector<std::string>{"images/a.jpg", "images/b.jpg", "images/c.jpg"}));
  std::lock_guard lock(producer_->mu);
  EXPECT_EQ(producer_->got[0].topic, "again");
}

TEST_F(Notifier, ConfigurationIsPersistedAndRedacted) {
  open(options());
  ASSERT_TRUE(n_->set_config(
      {"notify_webhook:hook", {{"endpoint", "http://127.0.0.1:1/x"}, {"auth_token", "s3cr3t"}}}));
  auto bad = n_->set_config({"notify_webhook:hook", {{"endpont", "http://x/"}}});
  ASSERT_FALSE(bad);
  EXPECT_TRUE(bad.error().is(errc::bad_config));
  EXPECT_NE(bad.error().message().find("unknown key 'endpont'"), std::string::npos);
  EXPECT_TRUE(
      n_->set_config({"notify_kafka:1", {{"brokers", ""}, {"topic", "t"}}}).error().is(errc::bad_config));
  EXPECT_TRUE(n_->set_config({"notify_redis:1", {{"a", "b"}}}).error().is(errc::unknown_target));
  auto cfg = n_->get_config("notify_webhook:hook");
  ASSERT_TRUE(cfg);
  ASSERT_EQ(cfg.value().size(), 1u);
  EXPECT_EQ(cfg.value()[0].name, "notify_webhook:hook");
  EXPECT_EQ(cfg.value()[0].kvs, (std::vector<std::pair<std::string, std::string>>{
                                    {"auth_token", "*redacted*"}, {"endpoint", "http://127.0.0.1:1/x"}}));
  EXPECT_TRUE(status("arn:minio:sqs::hook:webhook"));
  // Sending the redacted value back keeps the secret.
  ASSERT_TRUE(n_->set_config({"notify_webhook:hook", {{"auth_token", "*redacted*"}, {"comment", "c"}}}));

  open(options());
  cfg = n_->get_config("notify_webhook");
  ASSERT_TRUE(cfg);
  ASSERT_EQ(cfg.value().size(), 1u);
  EXPECT_EQ(cfg.value()[0].kvs.size(), 3u);
  EXPECT_TRUE(status("arn:minio:sqs::hook:webhook"));
  EXPECT_TRUE(n_->validate_rules(rules_xml("arn:minio:sqs::hook:webhook")));
  EXPECT_TRUE(n_->get_config("notify_sluice").value().size() == 1);

  ASSERT_TRUE(n_->reset_config("notify_webhook:hook"));
  EXPECT_TRUE(n_->get_config("notify_webhook:hook").error().is(errc::unknown_target));
  EXPECT_TRUE(n_->get_config("notify_webhook").value().empty());
  EXPECT_FALSE(status("arn:minio:sqs::hook:webhook"));
  open(options());
  EXPECT_FALSE(status("arn:minio:sqs::hook:webhook"));
}

TEST_F(Notifier, EnvironmentAndConfigFileSections) {
  auto o = options();
  o.config = {{"notify_webhook:file", {{"endpoint", "http://127.0.0.1:1/"}}},
              {"notify_kafka:broken", {{"topic", "t"}}}};
  o.environment =
      std::map<std::string, std::string>{{"MINIO_NOTIFY_WEBHOOK_ENDPOINT_ENV", "http://127.0.0.1:2/"},
                                         {"MINIO_NOTIFY_WEBHOOK_ENDPOINT_file", "http://127.0.0.1:3/"}};
  open(std::move(o));
  auto file = status("arn:minio:sqs::file:webhook");
  ASSERT_TRUE(file);
  EXPECT_EQ(file->endpoint, "http://127.0.0.1:3/");  // the environment overrides the file
  EXPECT_TRUE(status("arn:minio:sqs::ENV:webhook"));
  auto broken = status("arn:minio:sqs::broken:kafka");
  ASSERT_TRUE(broken);  // listed with its error, not started
  EXPECT_NE(broken->last_error.find("brokers"), std::string::npos) << broken->last_error;
  EXPECT_FALSE(n_->validate_rules(rules_xml("arn:minio:sqs::broken:kafka")));
}

// Kafka down (nothing listens on the port): the server starts, events queue,
// stop() is prompt.
TEST_F(Notifier, KafkaTargetWithBrokersDown) {
  auto o = options();
  o.config = {{"notify_kafka:1", {{"brokers", "127.0.0.1:1"}, {"topic", "events"}}}};
  const auto t0 = std::chrono::steady_clock::now();
  open(std::move(o));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  put_rules("images", rules_xml("arn:minio:sqs::1:kafka"));
  publish({put_event("images", "a.jpg")});
  EXPECT_TRUE(eventually([&] { return status("arn:minio:sqs::1:kafka")->queued == 1; }));
  EXPECT_FALSE(status("arn:minio:sqs::1:kafka")->online);
  EXPECT_EQ(status("arn:minio:sqs::1:kafka")->endpoint, "127.0.0.1:1 topic events");
  const auto t1 = std::chrono::steady_clock::now();
  n_->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t1, 2s);
}

TEST_F(Notifier, WatchersSeeMatchingEventsWithoutRules) {
  open(options());
  watch_filter f;
  f.bucket = "plain";
  f.events = parse_event_name("s3:ObjectCreated:*").value();
  f.prefix = "photos/";
  auto sub = n_->subscribe(f);
  EXPECT_TRUE(n_->wants("plain", "s3:ObjectCreated:Put"));
  EXPECT_FALSE(n_->wants("plain", "s3:ObjectRemoved:Delete"));
  EXPECT_FALSE(n_->wants("images", "s3:ObjectCreated:Put"));
  EXPECT_FALSE(sub->next(1ms).line);
  publish({put_event("plain", "photos/a b.jpg"), put_event("plain", "other/x.jpg"),
           put_event("plain", "photos/c.jpg", "s3:ObjectRemoved:Delete")});
  auto it = sub->next(1s);
  ASSERT_TRUE(it.line);
  EXPECT_NE(it.line->find("\"key\":\"photos/a b.jpg\""), std::string::npos) << *it.line;  // raw key
  EXPECT_FALSE(sub->next(10ms).line);
  for (int i = 0; i < 1001; ++i)
    ASSERT_TRUE(n_->publish(std::vector<event_args>{put_event("plain", "photos/x")}));
  auto over = sub->next(1ms);
  EXPECT_TRUE(over.overflowed);
  sub.reset();
  EXPECT_FALSE(n_->wants("plain", "s3:ObjectCreated:Put"));
}

}  // namespace
}  // namespace sluice::events
