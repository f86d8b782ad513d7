// The delivery worker of one target (target.h).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <random>

#include "base/thread.h"
#include "events/target.h"

namespace sluice::events {

namespace {

// An idle target is probed this often, so `notify list` shows a target that
// went away while nothing was sent as offline.
constexpr std::chrono::seconds kIdleProbe{30};

}  // namespace

delivery_worker::delivery_worker(outbox& box, std::string arn, target_factory make, worker_options opts)
    : box_(box), arn_(std::move(arn)), make_(std::move(make)), opts_(opts) {
  thread_ = named_thread("notify-deliver", [this] { run(); });
}

delivery_worker::~delivery_worker() {
  stop();
}

void delivery_worker::wake() {
  bool notify;
  {
    std::lock_guard lock(mu_);
    // Only the idle wait returns early on a wake; during the linger or a
    // backoff a notification would wake the thread for nothing (one context
    // switch per published event under load).
    notify = idle_ && !woken_;
    woken_ = true;
  }
  if (notify) cv_.notify_all();
}

void delivery_worker::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    if (current_) current_->interrupt();
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

worker_stats delivery_worker::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

bool delivery_worker::sleep(std::chrono::milliseconds d, bool wake_early) {
  std::unique_lock lock(mu_);
  idle_ = wake_early;
  cv_.wait_for(lock, d, [&] { return stopping_ || (wake_early && woken_); });
  idle_ = false;
  return !stopping_;
}

void delivery_worker::failed(const error& e) {
  std::lock_guard lock(mu_);
  if (stats_.online || stats_.failed_attempts == 0) spdlog::warn("notify {}: {}", arn_, e.message());
  stats_.online = false;
  stats_.failed_attempts += 1;
  stats_.last_error = e.message();
  backoff_ = backoff_.count() == 0 ? opts_.min_backoff : std::min(backoff_ * 2, opts_.max_backoff);
}

void delivery_worker::run() {
  std::minstd_rand rng(std::random_device{}());
  auto backoff_wait = [&] {
    std::chrono::milliseconds b;
    {
      std::lock_guard lock(mu_);
      b = backoff_;
    }
    std::uniform_int_distribution<int64_t> jitter(b.count() / 2, b.count());
    return sleep(std::chrono::milliseconds(jitter(rng)), false);
  };
  auto succeeded = [&] {
    std::lock_guard lock(mu_);
    if (!stats_.online && stats_.failed_attempts > 0) spdlog::info("notify {}: online", arn_);
    stats_.online = true;
    backoff_ = std::chrono::milliseconds(0);
  };

  std::unique_ptr<target> t;
  uint64_t after = 0;  // every event up to this seq was delivered (and removed, or will be after a restart)
  // The first idle moment probes at once (so a new target shows its state).
  auto last_probe = std::chrono::steady_clock::now() - kIdleProbe;
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) break;
      woken_ = false;  // a wake() from here on makes the idle wait below return
    }
    if (!t) {
      auto made = make_();
      if (!made) {
        failed(made.error());
        if (!backoff_wait()) break;
        continue;
      }
      std::lock_guard lock(mu_);
      t = std::move(made).value();
      current_ = t.get();
      if (stopping_) break;
    }
    auto batch = box_.read(arn_, after, opts_.batch_events, opts_.batch_bytes);
    if (!batch) {
      failed(batch.error());
      if (!backoff_wait()) break;
      continue;
    }
    auto& events = batch.value();
    if (events.empty()) {
      const auto now = std::chrono::steady_clock::now();
      if (now - last_probe >= kIdleProbe) {
        last_probe = now;
        if (auto p = t->probe(); p) {
          succeeded();
        } else {
          failed(p.error());
        }
        continue;  // events may have come in during the probe
      }
      if (!sleep(std::chrono::duration_cast<std::chrono::milliseconds>(kIdleProbe), true)) break;
      continue;
    }
    const delivery d = t->deliver(events);
    const size_t n = std::min(d.delivered, events.size());
    if (n > 0) {
      after = events[n - 1].seq;
      {
        std::lock_guard lock(mu_);
        stats_.delivered += n;
      }
      last_probe = std::chrono::steady_clock::now();
      // If this fails the events stay in the outbox and are sent again after
      // a restart (at-least-once); this worker does not resend them.
      if (auto r = box_.remove(arn_, after); !r && !r.error().is(errc::closed)) {
        spdlog::warn("notify {}: {}", arn_, r.error().message());
      }
    }
    if (n == events.size()) {
      succeeded();
      if (events.size() < opts_.batch_events && opts_.linger.count() > 0 && !sleep(opts_.linger, false)) break;
      continue;
    }
    {
      std::lock_guard lock(mu_);
      if (stopping_) break;  // interrupted: not a failure of the target
    }
    failed(d.err);
    if (!backoff_wait()) break;
  }
  {
    std::lock_guard lock(mu_);
    current_ = nullptr;
  }
  t.reset();  // outside mu_: closing a Kafka producer takes a moment
}

}  // namespace sluice::events
