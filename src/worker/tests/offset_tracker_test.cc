#include "worker/offset_tracker.h"

#include <gtest/gtest.h>

namespace sluice::worker {
namespace {

TEST(OffsetTracker, CommitsOnlyPastContiguousFinishedMessages) {
  offset_tracker t;
  EXPECT_FALSE(t.to_commit());
  EXPECT_EQ(t.first_unfinished(), -1);
  for (int64_t o : {10, 11, 12, 13}) t.dispatched(o);
  EXPECT_EQ(t.first_unfinished(), 10);
  t.finished(12);  // out of order: nothing committable yet
  t.finished(11);
  EXPECT_FALSE(t.to_commit());
  t.finished(10);
  ASSERT_TRUE(t.to_commit());
  EXPECT_EQ(*t.to_commit(), 13);  // Kafka's convention: the next offset to read
  EXPECT_EQ(t.first_unfinished(), 13);
  t.committed(13);
  EXPECT_FALSE(t.to_commit());
  t.finished(13);
  EXPECT_EQ(*t.to_commit(), 14);
  EXPECT_EQ(t.pending(), 0u);
}

TEST(OffsetTracker, GapsInOffsetsAreFine) {
  offset_tracker t;
  t.dispatched(5);
  t.dispatched(9);  // 6-8 were compacted away or transaction markers
  t.finished(9);
  EXPECT_FALSE(t.to_commit());
  t.finished(5);
  EXPECT_EQ(*t.to_commit(), 10);
}

TEST(OffsetTracker, AnUnfinishedMessageHoldsBackEverythingAfterIt) {
  offset_tracker t;
  for (int64_t o = 0; o < 100; ++o) t.dispatched(o);
  for (int64_t o = 0; o < 100; ++o) {
    if (o != 40) t.finished(o);
  }
  EXPECT_EQ(*t.to_commit(), 40);
  EXPECT_EQ(t.first_unfinished(), 40);
  EXPECT_EQ(t.pending(), 60u);
  t.finished(40);
  EXPECT_EQ(*t.to_commit(), 100);
  t.finished(12345);  // never dispatched: ignored
  EXPECT_EQ(*t.to_commit(), 100);
}

}  // namespace
}  // namespace sluice::worker
