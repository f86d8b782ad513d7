#pragma once
// The coordinator's time source, injectable so tests are deterministic.
#include <atomic>
#include <cstdint>
#include <memory>

namespace sluice::kafka::group {

class clock {
 public:
  virtual ~clock() = default;
  // Monotonic milliseconds (deadlines: sessions, rebalances). Any origin.
  virtual int64_t now_ms() const = 0;
  // Milliseconds since the Unix epoch (offset commit timestamps).
  virtual int64_t wall_ms() const = 0;
};

// std::chrono::steady_clock and system_clock. Thread-safe.
std::shared_ptr<clock> real_clock();

// Time moves only when told to. Thread-safe. now_ms() starts at 0; wall_ms()
// is a fixed epoch (2024-01-01) plus the same advance.
class manual_clock final : public clock {
 public:
  int64_t now_ms() const override { return now_.load(); }
  int64_t wall_ms() const override { return kWallBase + now_.load(); }
  void advance(int64_t ms) { now_.fetch_add(ms); }

 private:
  static constexpr int64_t kWallBase = 1'704'067'200'000;
  std::atomic<int64_t> now_{0};
};

}  // namespace sluice::kafka::group
