// The webhook target against a small HTTP server in the test.
#include <gtest/gtest.h>

#include <filesystem>

#include "base/crypto.h"
#include "events/target.h"
#include "http/server.h"

namespace sluice::events {
namespace {

// Records each POST; answers `fail_next` requests with 503 first.
class receiver final : public http::handler {
 public:
  struct request {
    std::string method, target, body, content_type, authorization, event_id;
  };
  void handle(http::exchange& ex) override {
    std::string body;
    char buf[4096];
    for (;;) {
      auto n = ex.body.read(buf, sizeof buf);
      if (!n || n.value() == 0) break;
      body.append(buf, n.value());
    }
    auto header = [&](std::string_view name) {
      auto it = ex.request.find(name);
      return it == ex.request.end() ? std::string() : std::string(it->value());
    };
    http::response r;
    {
      std::unique_lock lock(mu);
      if (hang) {
        ++hung;
        cv.notify_all();
        cv.wait_for(lock, std::chrono::seconds(10), [&] { return !hang; });
      }
      if (fail_next > 0) {
        --fail_next;
        r.status = 503;
      } else {
        got.push_back({std::string(ex.request.method_string()), std::string(ex.request.target()), body,
                       header("Content-Type"), header("Authorization"), header("X-Sluice-Event-Id")});
        r.status = 204;
      }
    }
    cv.notify_all();
    (void)ex.out.send(r, "");
  }

  std::mutex mu;
  std::condition_variable cv;
  std::vector<request> got;
  int fail_next = 0;
  bool hang = false;  // requests wait until it is cleared
  int hung = 0;
};

class Webhook : public ::testing::Test {
 protected:
  void SetUp() override {
    rec_ = std::make_shared<receiver>();
    http::server_options o;
    o.address = "127.0.0.1:0";
    srv_ = std::make_unique<http::server>(o, rec_);
    ASSERT_TRUE(srv_->start());
    url_ = "http://127.0.0.1:" + std::to_string(srv_->port()) + "/hook?x=1";
    dir_ = std::filesystem::temp_directory_path() / ("sluice-webhook-" + random_token(8));
    box_ = std::move(outbox::open(dir_.string())).value();
  }
  void TearDown() override {
    {
      std::lock_guard lock(rec_->mu);
      rec_->hang = false;
    }
    rec_->cv.notify_all();
    srv_->stop();
    box_.reset();
    std::filesystem::remove_all(dir_);
  }
  static std::vector<stored_event> events(int n) {
    std::vector<stored_event> v;
    for (int i = 0; i < n; ++i) {
      v.push_back({static_cast<uint64_t>(i + 1), "id-" + std::to_string(i), "b/k",
                   "{\"n\":" + std::to_string(i) + "}"});
    }
    return v;
  }

  std::shared_ptr<receiver> rec_;
  std::unique_ptr<http::server> srv_;
  std::string url_;
  std::filesystem::path dir_;
  std::unique_ptr<outbox> box_;
};

TEST_F(Webhook, PostsEachEventWithHeaders) {
  auto t = make_webhook_target({{"endpoint", url_}, {"auth_token", "tok"}});
  ASSERT_TRUE(t) << t.error().message();
  ASSERT_TRUE(t.value()->probe());
  auto evs = events(3);
  auto d = t.value()->deliver(evs);
  EXPECT_EQ(d.delivered, 3u) << d.err.message();
  std::lock_guard lock(rec_->mu);
  ASSERT_EQ(rec_->got.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    const auto& r = rec_->got[static_cast<size_t>(i)];
    EXPECT_EQ(r.method, "POST");
    EXPECT_EQ(r.target, "/hook?x=1");
    EXPECT_EQ(r.body, evs[static_cast<size_t>(i)].value);
    EXPECT_EQ(r.content_type, "application/json");
    EXPECT_EQ(r.authorization, "Bearer tok");
    EXPECT_EQ(r.event_id, "id-" + std::to_string(i));
  }
}

TEST_F(Webhook, TokenWithSchemeIsSentAsIs) {
  auto t = make_webhook_target({{"endpoint", url_}, {"auth_token", "Basic dTpw"}});
  ASSERT_TRUE(t);
  auto evs = events(1);
  EXPECT_EQ(t.value()->deliver(evs).delivered, 1u);
  std::lock_guard lock(rec_->mu);
  EXPECT_EQ(rec_->got.at(0).authorization, "Basic dTpw");
}

TEST_F(Webhook, NonSuccessStopsTheBatch) {
  auto t = make_webhook_target({{"endpoint", url_}});
  ASSERT_TRUE(t);
  auto evs = events(3);
  ASSERT_EQ(t.value()->deliver(std::span(evs).first(1)).delivered, 1u);
  {
    std::lock_guard lock(rec_->mu);
    rec_->fail_next = 1;
  }
  auto d = t.value()->deliver(std::span(evs).subspan(1));
  EXPECT_EQ(d.delivered, 0u);
  EXPECT_TRUE(d.err.is(errc::target_error));
  EXPECT_NE(d.err.message().find("answered 503"), std::string::npos) << d.err.message();
}

TEST_F(Webhook, UnreachableEndpointFails) {
  srv_->stop();
  auto t = make_webhook_target({{"endpoint", url_}});
  ASSERT_TRUE(t);
  EXPECT_FALSE(t.value()->probe());
  auto evs = events(1);
  auto d = t.value()->deliver(evs);
  EXPECT_EQ(d.delivered, 0u);
  EXPECT_TRUE(d.err.is(errc::target_error));
}

TEST_F(Webhook, InterruptEndsAHangingRequest) {
  {
    std::lock_guard lock(rec_->mu);
    rec_->hang = true;
  }
  auto t = make_webhook_target({{"endpoint", url_}});
  ASSERT_TRUE(t);
  std::thread stopper([&] {
    std::unique_lock lock(rec_->mu);
    rec_->cv.wait_for(lock, std::chrono::seconds(5), [&] { return rec_->hung > 0; });
    lock.unlock();
    t.value()->interrupt();
  });
  const auto t0 = std::chrono::steady_clock::now();
  auto evs = events(2);
  auto d = t.value()->deliver(evs);
  stopper.join();
  EXPECT_EQ(d.delivered, 0u);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
}

// Through the outbox and a delivery worker: failures are retried, every
// event arrives once, in order.
TEST_F(Webhook, WorkerRetriesUntilDelivered) {
  {
    std::lock_guard lock(rec_->mu);
    rec_->fail_next = 3;
  }
  std::vector<outbox_entry> entries;
  for (int i = 0; i < 20; ++i) entries.push_back({{"arn:minio:sqs::1:webhook"}, "b/k", std::to_string(i)});
  ASSERT_TRUE(box_->append(entries));
  worker_options o;
  o.min_backoff = std::chrono::milliseconds(5);
  o.max_backoff = std::chrono::milliseconds(20);
  const std::string url = url_;
  delivery_worker w(
      *box_, "arn:minio:sqs::1:webhook",
      [url] {
        return make_webhook_target({{"endpoint", url}});
      },
      o);
  {
    std::unique_lock lock(rec_->mu);
    ASSERT_TRUE(rec_->cv.wait_for(lock, std::chrono::seconds(10), [&] { return rec_->got.size() >= 20; }));
    for (int i = 0; i < 20; ++i) EXPECT_EQ(rec_->got[static_cast<size_t>(i)].body, std::to_string(i));
  }
  for (int i = 0; i < 100 && box_->usage().events > 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(box_->usage().events, 0u);
  EXPECT_EQ(w.stats().failed_attempts, 3u);
  EXPECT_EQ(w.stats().delivered, 20u);
}

}  // namespace
}  // namespace sluice::events
