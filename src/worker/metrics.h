#pragma once
// Progress counters of a worker: what happened to each message, how long
// results took, how far behind the consumer is. Written by the processing
// threads, read by the summary line and the Prometheus endpoint.
//
// Threading: every method may be called from any thread.
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace sluice::worker {

// A latency histogram with buckets growing by 2^(1/4) (≈19% apart) from 1 ms
// to about 6 hours; percentiles are reported as their bucket's upper bound.
class latency_histogram {
 public:
  static constexpr size_t kBuckets = 100;
  void add(std::chrono::milliseconds v);
  uint64_t count() const;
  // Upper bound of the bucket holding the q-quantile (0 < q <= 1); 0 when empty.
  std::chrono::milliseconds quantile(double q) const;
  double sum_seconds() const;
  // Observations <= bound, for Prometheus' cumulative buckets.
  uint64_t count_at_most(std::chrono::milliseconds bound) const;
  static std::chrono::milliseconds upper_bound(size_t bucket);

 private:
  mutable std::mutex mu_;
  std::array<uint64_t, kBuckets> buckets_{};
  uint64_t count_ = 0;
  double sum_ms_ = 0;
};

struct counters {
  uint64_t processed = 0;  // messages done (results written)
  uint64_t skipped = 0;    // messages with nothing to do
  uint64_t dead_lettered = 0;
  uint64_t failures = 0;  // failed attempts (each retry counts)
  uint64_t outputs = 0;   // objects written
};

class metrics {
 public:
  explicit metrics(std::string worker_name);
  const std::string& worker_name() const { return name_; }

  void processed(uint64_t outputs, std::chrono::milliseconds processing, std::chrono::milliseconds latency,
                 bool has_latency);
  void skipped() { skipped_.fetch_add(1, std::memory_order_relaxed); }
  void dead_lettered() { dead_lettered_.fetch_add(1, std::memory_order_relaxed); }
  void failure() { failures_.fetch_add(1, std::memory_order_relaxed); }
  void set_lag(int64_t lag) { lag_.store(lag, std::memory_order_relaxed); }
  void set_in_flight(int64_t n) { in_flight_.store(n, std::memory_order_relaxed); }
  void set_assigned(int64_t n) { assigned_.store(n, std::memory_order_relaxed); }

  counters totals() const;
  int64_t lag() const { return lag_.load(std::memory_order_relaxed); }
  const latency_histogram& latency() const { return latency_; }
  const latency_histogram& processing() const { return processing_; }

  // "image-resize: 120 processed (+12, 1.2/s), 3 skipped, 1 dead-lettered, 0 failed attempts, 4 in flight,
  //  lag 12, 6 partitions, latency p50 80 ms p99 310 ms" — `since` is the previous call's totals.
  std::string summary(const counters& since, std::chrono::duration<double> interval) const;
  // Prometheus text exposition format (version 0.0.4).
  std::string prometheus() const;

 private:
  std::string name_;
  std::atomic<uint64_t> processed_{0}, skipped_{0}, dead_lettered_{0}, failures_{0}, outputs_{0};
  std::atomic<int64_t> lag_{-1}, in_flight_{0}, assigned_{0};
  latency_histogram latency_;     // event time → results durable
  latency_histogram processing_;  // handler time of the successful attempt
};

}  // namespace sluice::worker
