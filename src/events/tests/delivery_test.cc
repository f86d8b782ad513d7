#include <gtest/gtest.h>

#include <filesystem>

#include "base/crypto.h"
#include "events/target.h"

namespace sluice::events {
namespace {

constexpr const char* kArn = "arn:minio:sqs::1:fake";

// A target that records what it got and fails as told: the first
// `fail_calls` deliver() calls deliver `partial` messages and then fail.
struct fake_state {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> got;  // values, in delivery order
  std::vector<std::string> ids;
  int calls = 0;
  int fail_calls = 0;
  size_t partial = 0;
  int made = 0;
  int make_failures = 0;
  bool block = false;  // deliver waits until interrupted
};

class fake_target final : public target {
 public:
  explicit fake_target(std::shared_ptr<fake_state> s) : s_(std::move(s)) {}
  delivery deliver(std::span<const stored_event> batch) override {
    std::unique_lock lock(s_->mu);
    ++s_->calls;
    if (s_->block) {
      s_->cv.wait(lock, [&] { return interrupted_; });
      return {0, error(errc::closed, "interrupted")};
    }
    size_t n = batch.size();
    bool fail = false;
    if (s_->fail_calls > 0) {
      --s_->fail_calls;
      n = std::min(n, s_->partial);
      fail = true;
    }
    for (size_t i = 0; i < n; ++i) {
      s_->got.push_back(batch[i].value);
      s_->ids.push_back(batch[i].event_id);
    }
    s_->cv.notify_all();
    if (fail) return {n, error(errc::target_error, "fake failure")};
    return {n, {}};
  }
  result<void> probe() override { return ok(); }
  void interrupt() override {
    std::lock_guard lock(s_->mu);
    interrupted_ = true;
    s_->cv.notify_all();
  }

 private:
  std::shared_ptr<fake_state> s_;
  bool interrupted_ = false;
};

class Delivery : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("sluice-delivery-" + random_token(8));
    box_ = std::move(outbox::open(dir_.string())).value();
    state_ = std::make_shared<fake_state>();
    opts_.min_backoff = std::chrono::milliseconds(5);
    opts_.max_backoff = std::chrono::milliseconds(40);
  }
  void TearDown() override {
    box_.reset();
    std::filesystem::remove_all(dir_);
  }

  target_factory factory() {
    return [s = state_]() -> result<std::unique_ptr<target>> {
      std::lock_guard lock(s->mu);
      if (s->make_failures > 0) {
        --s->make_failures;
        return fail(errc::target_error, "cannot connect");
      }
      ++s->made;
      return std::unique_ptr<target>(new fake_target(s));
    };
  }
  void append(int from, int to) {
    std::vector<outbox_entry> entries;
    for (int i = from; i < to; ++i) entries.push_back({{kArn}, "b/k", std::to_string(i)});
    ASSERT_TRUE(box_->append(entries));
  }
  bool wait_for(size_t n, std::chrono::seconds limit = std::chrono::seconds(10)) {
    std::unique_lock lock(state_->mu);
    return state_->cv.wait_for(lock, limit, [&] { return state_->got.size() >= n; });
  }
  static std::vector<std::string> numbers(int from, int to) {
    std::vector<std::string> v;
    for (int i = from; i < to; ++i) v.push_back(std::to_string(i));
    return v;
  }

  std::filesystem::path dir_;
  std::unique_ptr<outbox> box_;
  std::shared_ptr<fake_state> state_;
  worker_options opts_;
};

TEST_F(Delivery, DeliversInOrderAndDeletes) {
  append(0, 50);
  delivery_worker w(*box_, kArn, factory(), opts_);
  ASSERT_TRUE(wait_for(50));
  append(50, 120);
  w.wake();
  ASSERT_TRUE(wait_for(120));
  w.stop();
  EXPECT_EQ(state_->got, numbers(0, 120));
  EXPECT_EQ(box_->usage(kArn).events, 0u);
  EXPECT_EQ(w.stats().delivered, 120u);
  EXPECT_TRUE(w.stats().online);
}

TEST_F(Delivery, RetriesFromTheFirstFailureWithoutSkipping) {
  {
    std::lock_guard lock(state_->mu);
    state_->fail_calls = 4;  // the first four calls fail after 3, 3, 3, 3 messages
    state_->partial = 3;
  }
  opts_.batch_events = 10;
  append(0, 40);
  delivery_worker w(*box_, kArn, factory(), opts_);
  ASSERT_TRUE(wait_for(40));
  w.stop();
  EXPECT_EQ(state_->got, numbers(0, 40));  // in order, nothing skipped, nothing twice
  const auto st = w.stats();
  EXPECT_EQ(st.failed_attempts, 4u);
  EXPECT_EQ(st.last_error, "fake failure");
  EXPECT_TRUE(st.online);
  EXPECT_EQ(box_->usage(kArn).events, 0u);
}

TEST_F(Delivery, RetriesTargetCreation) {
  {
    std::lock_guard lock(state_->mu);
    state_->make_failures = 3;
  }
  append(0, 5);
  delivery_worker w(*box_, kArn, factory(), opts_);
  ASSERT_TRUE(wait_for(5));
  EXPECT_EQ(w.stats().failed_attempts, 3u);
  EXPECT_EQ(state_->made, 1);
}

TEST_F(Delivery, OfflineTargetKeepsEventsAndStopIsPrompt) {
  {
    std::lock_guard lock(state_->mu);
    state_->fail_calls = 1'000'000;
    state_->partial = 0;
  }
  append(0, 10);
  auto w = std::make_unique<delivery_worker>(*box_, kArn, factory(), opts_);
  // Several attempts at the capped backoff.
  for (int i = 0; i < 200 && w->stats().failed_attempts < 5; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_GE(w->stats().failed_attempts, 5u);
  EXPECT_FALSE(w->stats().online);
  const auto t0 = std::chrono::steady_clock::now();
  w->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(1));
  EXPECT_EQ(box_->usage(kArn).events, 10u);

  // A new worker (e.g. after reconfiguration) delivers them all.
  {
    std::lock_guard lock(state_->mu);
    state_->fail_calls = 0;
  }
  delivery_worker w2(*box_, kArn, factory(), opts_);
  ASSERT_TRUE(wait_for(10));
  EXPECT_EQ(state_->got, numbers(0, 10));
}

TEST_F(Delivery, StopInterruptsABlockedDelivery) {
  {
    std::lock_guard lock(state_->mu);
    state_->block = true;
  }
  append(0, 3);
  delivery_worker w(*box_, kArn, factory(), opts_);
  for (int i = 0; i < 500; ++i) {
    {
      std::lock_guard lock(state_->mu);
      if (state_->calls > 0) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  const auto t0 = std::chrono::steady_clock::now();
  w.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(1));
  EXPECT_EQ(box_->usage(kArn).events, 3u);
  EXPECT_EQ(w.stats().failed_attempts, 0u);  // an interruption is not a failure
}

}  // namespace
}  // namespace sluice::events
