#include "stream/block_cache.h"

#include <gtest/gtest.h>

namespace sluice::stream {
namespace {

std::shared_ptr<const byte_owner> buffer(size_t n) {
  return std::make_shared<const string_owner>(std::string(n, 'b'));
}

block_records some_records() {
  return std::make_shared<const std::vector<record_ptr>>();
}

TEST(BlockCache, ChargesABufferOnceForAllItsBlocks) {
  block_cache c(1000);
  auto buf = buffer(600);
  c.put_block(object_id(1), 0, some_records(), buf);
  c.put_block(object_id(1), 200, some_records(), buf);
  c.put_block(object_id(1), 400, some_records(), buf);
  EXPECT_EQ(c.bytes(), 600u);
  EXPECT_NE(c.get_block(object_id(1), 200), nullptr);
}

TEST(BlockCache, ReleasesABufferWithItsLastBlock) {
  block_cache c(1000);
  auto a = buffer(600), b = buffer(300);
  c.put_block(object_id(1), 0, some_records(), a);
  c.put_block(object_id(1), 300, some_records(), a);
  c.put_block(object_id(2), 0, some_records(), b);
  EXPECT_EQ(c.bytes(), 900u);
  // A third buffer pushes out the least recent blocks: both of a's, so a is
  // no longer charged (nor kept alive by the cache).
  std::weak_ptr<const byte_owner> weak_a = a;
  a.reset();
  c.put_block(object_id(3), 0, some_records(), buffer(500));
  EXPECT_EQ(c.get_block(object_id(1), 0), nullptr);
  EXPECT_EQ(c.get_block(object_id(1), 300), nullptr);
  EXPECT_NE(c.get_block(object_id(2), 0), nullptr);
  EXPECT_EQ(c.bytes(), 800u);
  EXPECT_TRUE(weak_a.expired());
}

TEST(BlockCache, KeepsTheBufferWhileOneOfItsBlocksIsCached) {
  block_cache c(1000);
  auto a = buffer(400);
  c.put_block(object_id(1), 0, some_records(), a);
  c.put_block(object_id(1), 100, some_records(), a);
  c.put_block(object_id(2), 0, some_records(), buffer(300));
  ASSERT_NE(c.get_block(object_id(1), 100), nullptr);  // now the most recent
  // 700 + 400 > 1000: the least recent block, (1, 0), goes; (2, 0) next, as
  // a is still charged through (1, 100).
  c.put_block(object_id(3), 0, some_records(), buffer(400));
  EXPECT_EQ(c.get_block(object_id(1), 0), nullptr);
  EXPECT_EQ(c.get_block(object_id(2), 0), nullptr);
  EXPECT_NE(c.get_block(object_id(1), 100), nullptr);
  EXPECT_EQ(c.bytes(), 800u);
}

}  // namespace
}  // namespace sluice::stream
