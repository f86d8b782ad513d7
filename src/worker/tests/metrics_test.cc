#include "worker/metrics.h"

#include <gtest/gtest.h>

namespace sluice::worker {
namespace {

using std::chrono::milliseconds;

TEST(LatencyHistogram, QuantilesWithinABucket) {
  latency_histogram h;
  EXPECT_EQ(h.quantile(0.5), milliseconds(0));
  for (int i = 1; i <= 100; ++i) h.add(milliseconds(i * 10));  // 10 .. 1000 ms
  EXPECT_EQ(h.count(), 100u);
  auto p50 = h.quantile(0.5).count();
  auto p99 = h.quantile(0.99).count();
  EXPECT_GE(p50, 500);
  EXPECT_LE(p50, 500 * 1.2);
  EXPECT_GE(p99, 990);
  EXPECT_LE(p99, 990 * 1.2);
  EXPECT_NEAR(h.sum_seconds(), 50.5, 1e-9);
  EXPECT_EQ(h.count_at_most(milliseconds(100'000'000)), 100u);
  h.add(milliseconds(-5));  // clock steps: counted as 0
  EXPECT_EQ(h.count(), 101u);
}

TEST(Metrics, SummaryAndPrometheus) {
  metrics m("image-resize");
  counters zero = m.totals();
  m.processed(2, milliseconds(40), milliseconds(120), true);
  m.processed(2, milliseconds(50), milliseconds(0), false);
  m.skipped();
  m.dead_lettered();
  m.failure();
  m.set_lag(7);
  m.set_in_flight(3);
  m.set_assigned(4);
  counters c = m.totals();
  EXPECT_EQ(c.processed, 2u);
  EXPECT_EQ(c.outputs, 4u);
  EXPECT_EQ(c.skipped, 1u);
  EXPECT_EQ(c.dead_lettered, 1u);
  EXPECT_EQ(c.failures, 1u);
  std::string s = m.summary(zero, std::chrono::seconds(2));
  EXPECT_NE(
      s.find(
          "image-resize: 2 processed (+2, 1.0/s), 4 outputs, 1 skipped, 1 dead-lettered, 1 failed attempts, "
          "3 in flight, lag 7, 4 partitions, latency p50"),
      std::string::npos)
      << s;
  std::string p = m.prometheus();
  EXPECT_NE(p.find("sluice_worker_processed_total{worker=\"image-resize\"} 2\n"), std::string::npos) << p;
  EXPECT_NE(p.find("sluice_worker_lag_messages{worker=\"image-resize\"} 7\n"), std::string::npos);
  EXPECT_NE(p.find("sluice_worker_latency_seconds_count{worker=\"image-resize\"} 1\n"), std::string::npos);
  EXPECT_NE(p.find("sluice_worker_processing_seconds_bucket{worker=\"image-resize\",le=\"+Inf\"} 2\n"),
            std::string::npos);
}

}  // namespace
}  // namespace sluice::worker
