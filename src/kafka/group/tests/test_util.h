#pragma once
// Helpers shared by the group tests.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "kafka/group/group_coordinator.h"

namespace sluice::kafka::group::testing {

// ConsumerProtocolSubscription v0: version, topics, null user data.
inline std::string subscription(const std::vector<std::string>& topics) {
  std::string b;
  auto put = [&](uint64_t v, int bytes) {
    for (int i = bytes - 1; i >= 0; --i) b += static_cast<char>((v >> (8 * i)) & 0xff);
  };
  put(0, 2);
  put(topics.size(), 4);
  for (const auto& t : topics) {
    put(t.size(), 2);
    b += t;
  }
  put(0xffffffff, 4);
  return b;
}

// A response that arrives later (from another thread, maybe).
template <class R>
class awaited {
 public:
  std::function<void(R)> callback() {
    auto s = state_;
    return [s](R r) {
      std::lock_guard lk(s->mu);
      if (s->value) ADD_FAILURE() << "callback ran twice";
      s->value = std::move(r);
      ++s->calls;
      s->cv.notify_all();
    };
  }
  bool ready() const {
    std::lock_guard lk(state_->mu);
    return state_->value.has_value();
  }
  R get() const {
    std::lock_guard lk(state_->mu);
    if (!state_->value) throw std::runtime_error("no response yet");
    return *state_->value;
  }
  // Waits (real time) for the response.
  std::optional<R> wait(std::chrono::milliseconds timeout) const {
    std::unique_lock lk(state_->mu);
    state_->cv.wait_for(lk, timeout, [&] { return state_->value.has_value(); });
    return state_->value;
  }

 private:
  struct state {
    mutable std::mutex mu;
    std::condition_variable cv;
    std::optional<R> value;
    int calls = 0;
  };
  std::shared_ptr<state> state_ = std::make_shared<state>();
};

}  // namespace sluice::kafka::group::testing
