#include "kafka/protocol/partitioner.h"

#include <gtest/gtest.h>

namespace sluice::kafka::protocol {
namespace {

// The vectors of Kafka's UtilsTest.testMurmur2.
TEST(Partitioner, Murmur2MatchesKafka) {
  EXPECT_EQ(murmur2("21"), -973932308);
  EXPECT_EQ(murmur2("foobar"), -790332482);
  EXPECT_EQ(murmur2("a-little-bit-long-string"), -985981536);
  EXPECT_EQ(murmur2("a-little-bit-longer-string"), -1486304829);
  EXPECT_EQ(murmur2("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"), -58897971);
  EXPECT_EQ(murmur2("abc"), 479470107);
}

TEST(Partitioner, PartitionIsStableAndInRange) {
  for (int32_t n : {1, 3, 16}) {
    for (std::string key : {"images/rose.jpg", "", "images/deeper/path/rose.jpg"}) {
      int32_t p = partition_for_key(key, n);
      EXPECT_GE(p, 0);
      EXPECT_LT(p, n);
      EXPECT_EQ(p, partition_for_key(key, n));
    }
  }
}

}  // namespace
}  // namespace sluice::kafka::protocol
