#include "worker/metrics.h"

#include <fmt/format.h>

#include <cmath>

namespace sluice::worker {

namespace {

size_t bucket_of(std::chrono::milliseconds v) {
  if (v.count() <= 1) return 0;
  double b = std::ceil(4.0 * std::log2(static_cast<double>(v.count())));
  return std::min(latency_histogram::kBuckets - 1, static_cast<size_t>(b));
}

std::string ms_text(std::chrono::milliseconds v) {
  if (v.count() < 10'000) return fmt::format("{} ms", v.count());
  return fmt::format("{:.1f} s", static_cast<double>(v.count()) / 1000.0);
}

}  // namespace

std::chrono::milliseconds latency_histogram::upper_bound(size_t bucket) {
  return std::chrono::milliseconds(
      static_cast<int64_t>(std::floor(std::exp2(static_cast<double>(bucket) / 4.0))));
}

void latency_histogram::add(std::chrono::milliseconds v) {
  if (v.count() < 0) v = std::chrono::milliseconds(0);
  std::lock_guard lk(mu_);
  ++buckets_[bucket_of(v)];
  ++count_;
  sum_ms_ += static_cast<double>(v.count());
}

uint64_t latency_histogram::count() const {
  std::lock_guard lk(mu_);
  return count_;
}

double latency_histogram::sum_seconds() const {
  std::lock_guard lk(mu_);
  return sum_ms_ / 1000.0;
}

std::chrono::milliseconds latency_histogram::quantile(double q) const {
  std::lock_guard lk(mu_);
  if (count_ == 0) return std::chrono::milliseconds(0);
  auto rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_)));
  uint64_t seen = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    seen += buckets_[i];
    if (seen >= rank && buckets_[i] > 0) return upper_bound(i);
  }
  return upper_bound(kBuckets - 1);
}

uint64_t latency_histogram::count_at_most(std::chrono::milliseconds bound) const {
  std::lock_guard lk(mu_);
  uint64_t n = 0;
  for (size_t i = 0; i < kBuckets && upper_bound(i) <= bound; ++i) n += buckets_[i];
  return n;
}

metrics::metrics(std::string worker_name) : name_(std::move(worker_name)) {}

void metrics::processed(uint64_t outputs, std::chrono::milliseconds processing,
                        std::chrono::milliseconds latency, bool has_latency) {
  processed_.fetch_add(1, std::memory_order_relaxed);
  outputs_.fetch_add(outputs, std::memory_order_relaxed);
  processing_.add(processing);
  if (has_latency) latency_.add(latency);
}

counters metrics::totals() const {
  counters c;
  c.processed = processed_.load(std::memory_order_relaxed);
  c.skipped = skipped_.load(std::memory_order_relaxed);
  c.dead_lettered = dead_lettered_.load(std::memory_order_relaxed);
  c.failures = failures_.load(std::memory_order_relaxed);
  c.outputs = outputs_.load(std::memory_order_relaxed);
  return c;
}

std::string metrics::summary(const counters& since, std::chrono::duration<double> interval) const {
  counters now = totals();
  uint64_t delta = now.processed - since.processed;
  double rate = interval.count() > 0 ? static_cast<double>(delta) / interval.count() : 0.0;
  std::string lag = lag_.load() < 0 ? "?" : std::to_string(lag_.load());
  std::string s = fmt::format(
      "{}: {} processed (+{}, {:.1f}/s), {} outputs, {} skipped, {} dead-lettered, {} failed attempts, "
      "{} in flight, lag {}, {} partitions",
      name_, now.processed, delta, rate, now.outputs, now.skipped, now.dead_lettered, now.failures,
      in_flight_.load(), lag, assigned_.load());
  if (latency_.count() > 0) {
    s += fmt::format(", latency p50 {} p99 {}", ms_text(latency_.quantile(0.5)),
                     ms_text(latency_.quantile(0.99)));
  }
  return s;
}

std::string metrics::prometheus() const {
  counters c = totals();
  std::string out;
  auto counter = [&](const char* metric, const char* help, uint64_t v) {
    out += fmt::format("# HELP {0} {1}\n# TYPE {0} counter\n{0}{{worker=\"{2}\"}} {3}\n", metric, help, name_,
                       v);
  };
  auto gauge = [&](const char* metric, const char* help, int64_t v) {
    out +=
        fmt::format("# HELP {0} {1}\n# TYPE {0} gauge\n{0}{{worker=\"{2}\"}} {3}\n", metric, help, name_, v);
  };
  counter("sluice_worker_processed_total", "Messages whose results are durable.", c.processed);
  counter("sluice_worker_outputs_total", "Objects written.", c.outputs);
  counter("sluice_worker_skipped_total", "Messages with nothing to do.", c.skipped);
  counter("sluice_worker_dead_lettered_total", "Messages sent to the dead-letter topic.", c.dead_lettered);
  counter("sluice_worker_failed_attempts_total", "Attempts that failed (each retry counts).", c.failures);
  gauge("sluice_worker_lag_messages", "Messages behind the partitions' high watermarks (-1 unknown).",
        lag_.load());
  gauge("sluice_worker_in_flight", "Messages being processed or waiting for their key.", in_flight_.load());
  gauge("sluice_worker_assigned_partitions", "Partitions assigned to this worker.", assigned_.load());
  auto histogram = [&](const char* metric, const char* help, const latency_histogram& h) {
    out += fmt::format("# HELP {0} {1}\n# TYPE {0} histogram\n", metric, help);
    for (int64_t ms : {5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000}) {
      // Buckets are approximate: the histogram's own buckets are ~19% wide.
      out += fmt::format("{}_bucket{{worker=\"{}\",le=\"{}\"}} {}\n", metric, name_,
                         static_cast<double>(ms) / 1000.0, h.count_at_most(std::chrono::milliseconds(ms)));
    }
    out += fmt::format(
        "{0}_bucket{{worker=\"{1}\",le=\"+Inf\"}} {2}\n{0}_sum{{worker=\"{1}\"}} {3}\n"
        "{0}_count{{worker=\"{1}\"}} {2}\n",
        metric, name_, h.count(), h.sum_seconds());
  };
  histogram("sluice_worker_latency_seconds", "Event time to results durable.", latency_);
  histogram("sluice_worker_processing_seconds", "Handler time of successful attempts.", processing_);
  return out;
}

}  // namespace sluice::worker
