#include "kafka/group/offset_store.h"

#include <gtest/gtest.h>

#include "stream/meta/meta_store.h"

namespace sluice::kafka::group {
namespace {

std::unique_ptr<stream::meta::meta_store> memory_kv() {
  auto kv = stream::meta::open_sqlite(":memory:");
  if (!kv) throw std::runtime_error(kv.error().message());
  return std::move(kv).value();
}

TEST(MetaOffsetStore, KeyAndValueFormat) {
  auto kv = memory_kv();
  auto store = make_meta_offset_store(*kv);
  std::vector<offset_record> recs{{"orders", 3, {17, 2, "meta", 1700000000000}}};
  size_t stored = 0;
  ASSERT_TRUE(store->put("a/b%c", recs, &stored));
  EXPECT_EQ(stored, 1u);
  auto all = kv->scan("");
  ASSERT_TRUE(all);
  ASSERT_EQ(all.value().size(), 1u);
  EXPECT_EQ(all.value()[0].first, "kafka/groups/a%2Fb%25c/offsets/orders/3");
  EXPECT_EQ(all.value()[0].second,
            R"({"v":1,"offset":17,"leader_epoch":2,"metadata":"meta","commit_time_ms":1700000000000})");
}

TEST(MetaOffsetStore, RoundTripAndErase) {
  auto kv = memory_kv();
  auto store = make_meta_offset_store(*kv);
  std::string binary("\xff\x00\x01\"\\", 5);
  std::vector<offset_record> recs{
      {"t", 0, {1, -1, binary, 5}}, {"t", 1, {2, 3, "", 6}}, {"u", 0, {3, 0, "x", 7}}};
  size_t n = 0;
  ASSERT_TRUE(store->put("g1", recs, &n));
  ASSERT_TRUE(store->put("g2", std::span(recs).first(1), &n));
  auto loaded = store->load_all();
  ASSERT_TRUE(loaded);
  ASSERT_EQ(loaded.value().size(), 4u);
  const auto& first = loaded.value()[0];
  EXPECT_EQ(first.group, "g1");
  EXPECT_EQ(first.record.topic, "t");
  EXPECT_EQ(first.record.value.metadata, binary);
  EXPECT_EQ(loaded.value()[1].record.value.leader_epoch, 3);
  EXPECT_EQ(loaded.value()[3].group, "g2");

  std::vector<topic_partition> keys{{"t", 0}, {"absent", 9}};
  ASSERT_TRUE(store->erase("g1", keys, &n));
  EXPECT_EQ(n, 2u);
  EXPECT_EQ(store->load_all().value().size(), 3u);
}

TEST(MetaOffsetStore, UnreadableRecordsAreSkipped) {
  auto kv = memory_kv();
  ASSERT_TRUE(kv->put("kafka/groups/g/offsets/t/0", "not json"));
  ASSERT_TRUE(kv->put("kafka/groups/g/offsets/t/x",
                      R"({"v":1,"offset":1,"leader_epoch":-1,"metadata":"","commit_time_ms":0})"));
  ASSERT_TRUE(kv->put("kafka/groups/g/offsets/t/1", R"({"v":2,"offset":1})"));
  ASSERT_TRUE(kv->put("kafka/groups/g/offsets/t/2",
                      R"({"v":1,"offset":9,"leader_epoch":-1,"metadata":"","commit_time_ms":0})"));
  ASSERT_TRUE(kv->put("kafka/topics/x", "{}"));  // not ours
  auto store = make_meta_offset_store(*kv);
  auto loaded = store->load_all();
  ASSERT_TRUE(loaded);
  ASSERT_EQ(loaded.value().size(), 1u);
  EXPECT_EQ(loaded.value()[0].record.partition, 2);
  EXPECT_EQ(loaded.value()[0].record.value.offset, 9);
}

TEST(MemoryOffsetStore, InjectedFailure) {
  memory_offset_store store;
  std::vector<offset_record> recs{{"t", 0, {}}, {"t", 1, {}}, {"t", 2, {}}};
  store.fail_after(2);
  size_t n = 0;
  auto r = store.put("g", recs, &n);
  EXPECT_FALSE(r);
  EXPECT_EQ(n, 2u);
  EXPECT_EQ(store.size(), 2u);
  EXPECT_TRUE(store.put("g", recs, &n)) << "a failure is injected once";
  EXPECT_EQ(store.size(), 3u);
}

}  // namespace
}  // namespace sluice::kafka::group
