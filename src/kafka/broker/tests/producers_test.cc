#include "kafka/broker/producers.h"

#include <gtest/gtest.h>

namespace sluice::kafka {
namespace {

batch_header h(int64_t pid, int16_t epoch, int32_t seq, int32_t delta = 0) {
  batch_header b;
  b.producer_id = pid;
  b.producer_epoch = epoch;
  b.base_sequence = seq;
  b.last_offset_delta = delta;
  return b;
}

TEST(ProducerTable, SequencesDuplicatesAndEpochs) {
  producer_table t;
  using v = producer_table::verdict;
  EXPECT_EQ(t.check(h(7, 0, 0, 4)).v, v::append);
  t.record(h(7, 0, 0, 4), 100);
  EXPECT_EQ(t.check(h(7, 0, 5, 2)).v, v::append);
  t.record(h(7, 0, 5, 2), 105);
  // A retry of either recent batch is a duplicate with its original offsets.
  auto d = t.check(h(7, 0, 0, 4));
  EXPECT_EQ(d.v, v::duplicate);
  EXPECT_EQ(d.base_offset, 100);
  EXPECT_EQ(d.last_offset, 104);
  EXPECT_EQ(t.check(h(7, 0, 5, 2)).base_offset, 105);
  // A gap or a rewind is out of order.
  EXPECT_EQ(t.check(h(7, 0, 9)).v, v::out_of_order);
  EXPECT_EQ(t.check(h(7, 0, 3)).v, v::out_of_order);
  // An older epoch is fenced; a newer one must restart at 0.
  EXPECT_EQ(t.check(h(7, -1 + 0, 8)).v, v::fenced_epoch);
  EXPECT_EQ(t.check(h(7, 1, 8)).v, v::out_of_order);
  EXPECT_EQ(t.check(h(7, 1, 0)).v, v::append);
  t.record(h(7, 1, 0), 200);
  EXPECT_EQ(t.check(h(7, 0, 8)).v, v::fenced_epoch);
  // Producers without an id are never checked.
  EXPECT_EQ(t.check(h(-1, -1, -1)).v, v::append);
  // Only the last five batches are remembered.
  producer_table u;
  for (int i = 0; i < 7; ++i) u.record(h(1, 0, i), i);
  EXPECT_EQ(u.check(h(1, 0, 0)).v, v::out_of_order);
  EXPECT_EQ(u.check(h(1, 0, 6)).v, v::duplicate);
  // Sequences wrap at INT32_MAX.
  producer_table w;
  w.record(h(2, 0, INT32_MAX - 1, 1), 0);
  EXPECT_EQ(w.check(h(2, 0, 0)).v, v::append);
}

}  // namespace
}  // namespace sluice::kafka
