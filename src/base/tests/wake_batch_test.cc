#include "base/wake_batch.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace sluice {
namespace {

TEST(WakeBatch, OutsideABatchWakesAtOnce) {
  int n = 0;
  EXPECT_FALSE(wake_batch::active());
  wake_batch::wake(&n, [&] { ++n; });
  EXPECT_EQ(n, 1);
}

TEST(WakeBatch, InsideABatchEachKeyWakesOnceAtTheEnd) {
  int a = 0, b = 0;
  std::vector<char> order;
  {
    wake_batch batch;
    EXPECT_TRUE(wake_batch::active());
    for (int i = 0; i < 5; ++i) {
      wake_batch::wake(&a, [&] { ++a, order.push_back('a'); });
      wake_batch::wake(&b, [&] { ++b, order.push_back('b'); });
    }
    EXPECT_EQ(a, 0);
    EXPECT_EQ(b, 0);
  }
  EXPECT_FALSE(wake_batch::active());
  EXPECT_EQ(a, 1);
  EXPECT_EQ(b, 1);
  EXPECT_EQ(order, (std::vector<char>{'a', 'b'}));
}

TEST(WakeBatch, NestedBatchesDeferToTheOutermost) {
  int n = 0;
  {
    wake_batch outer;
    {
      wake_batch inner;
      wake_batch::wake(&n, [&] { ++n; });
    }
    EXPECT_EQ(n, 0);
  }
  EXPECT_EQ(n, 1);
}

TEST(WakeBatch, AWakeFromADeferredFunctionStillRuns) {
  int first = 0, second = 0;
  {
    wake_batch batch;
    wake_batch::wake(&first, [&] {
      ++first;
      wake_batch::wake(&second, [&] { ++second; });
    });
  }
  EXPECT_EQ(first, 1);
  EXPECT_EQ(second, 1);
}

TEST(WakeBatch, BatchesArePerThread) {
  int n = 0;
  wake_batch batch;
  std::thread([&] {
    EXPECT_FALSE(wake_batch::active());
    wake_batch::wake(&n, [&] { ++n; });
  }).join();
  EXPECT_EQ(n, 1);  // the other thread had no batch open: it woke at once
}

}  // namespace
}  // namespace sluice
