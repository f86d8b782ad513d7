#include "objstore/erasure/layout.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "objstore/erasure/internal/siphash.h"

namespace sluice::objstore::erasure {
namespace {

using strings = std::vector<std::string>;

TEST(Layout, DefaultParityTable) {
  const int want[] = {0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 4, 4, 4, 4, 4, 4, 4};  // index: drives in the set
  for (int n = 1; n <= 16; ++n) EXPECT_EQ(default_parity(n), want[n]) << n << " drives";
  EXPECT_EQ(default_parity(32), 4);
  for (int n = 1; n <= 16; ++n) EXPECT_TRUE(validate_parity(default_parity(n), n)) << n;
}

TEST(Layout, ParityLimits) {
  EXPECT_TRUE(validate_parity(8, 16));
  EXPECT_TRUE(validate_parity(9, 16).error().is(errc::bad_parity));
  EXPECT_TRUE(validate_parity(3, 6));
  EXPECT_TRUE(validate_parity(2, 5));
  EXPECT_TRUE(validate_parity(3, 5).error().is(errc::bad_parity));
  EXPECT_TRUE(validate_parity(1, 2));
  EXPECT_TRUE(validate_parity(2, 2).error().is(errc::bad_parity));
  EXPECT_TRUE(validate_parity(0, 1));
  EXPECT_TRUE(validate_parity(1, 1).error().is(errc::bad_parity));
  EXPECT_TRUE(validate_parity(-1, 4).error().is(errc::bad_parity));
}

TEST(Layout, Quorums) {
  EXPECT_EQ(read_quorum(12, 4), 12);
  EXPECT_EQ(write_quorum(12, 4), 12);
  EXPECT_EQ(read_quorum(4, 4), 4);
  EXPECT_EQ(write_quorum(4, 4), 5);  // k == m: a majority, not half
  EXPECT_EQ(write_quorum(1, 1), 2);
  EXPECT_EQ(write_quorum(1, 0), 1);
  EXPECT_EQ(write_quorum(2, 1), 2);
}

TEST(Layout, SetSizes) {
  auto sets = [](int n) { return choose_sets(n).value(); };
  EXPECT_EQ(sets(1), (set_geometry{1, 1}));
  EXPECT_EQ(sets(2), (set_geometry{1, 2}));
  EXPECT_EQ(sets(3), (set_geometry{1, 3}));
  EXPECT_EQ(sets(4), (set_geometry{1, 4}));
  EXPECT_EQ(sets(8), (set_geometry{1, 8}));
  EXPECT_EQ(sets(12), (set_geometry{1, 12}));
  EXPECT_EQ(sets(16), (set_geometry{1, 16}));
  EXPECT_EQ(sets(18), (set_geometry{2, 9}));
  EXPECT_EQ(sets(20), (set_geometry{2, 10}));
  EXPECT_EQ(sets(24), (set_geometry{2, 12}));
  EXPECT_EQ(sets(32), (set_geometry{2, 16}));
  EXPECT_EQ(sets(34), (set_geometry{17, 2}));
  EXPECT_EQ(sets(64), (set_geometry{4, 16}));
  EXPECT_EQ(sets(360), (set_geometry{24, 15}));
  for (int bad : {0, -4, 17, 19, 23, 37})
    EXPECT_TRUE(choose_sets(bad).error().is(errc::bad_drive_count)) << bad;
}

TEST(Layout, EllipsisSingle) {
  EXPECT_EQ(expand_ellipsis("/data{1...4}").value(), (strings{"/data1", "/data2", "/data3", "/data4"}));
  EXPECT_EQ(expand_ellipsis("{1...3}").value(), (strings{"1", "2", "3"}));
  EXPECT_EQ(expand_ellipsis("/d{9...11}/x").value(), (strings{"/d9/x", "/d10/x", "/d11/x"}));
  EXPECT_EQ(expand_ellipsis("/d{0...0}").value(), (strings{"/d0"}));
  EXPECT_EQ(expand_ellipsis("/plain/path").value(), (strings{"/plain/path"}));
  EXPECT_EQ(expand_ellipsis("/data{1...8}").value().size(), 8u);
}

TEST(Layout, EllipsisZeroPadding) {
  const auto v = expand_ellipsis("/data{01...16}").value();
  ASSERT_EQ(v.size(), 16u);
  EXPECT_EQ(v.front(), "/data01");
  EXPECT_EQ(v[8], "/data09");
  EXPECT_EQ(v.back(), "/data16");
  EXPECT_EQ(expand_ellipsis("/d{1...003}").value(), (strings{"/d001", "/d002", "/d003"}));
  EXPECT_EQ(expand_ellipsis("/d{0...2}").value(), (strings{"/d0", "/d1", "/d2"}));  // "0" alone is no padding
}

TEST(Layout, EllipsisCrossProductLeftmostFastest) {
  EXPECT_EQ(expand_ellipsis("/mnt/disk{1...2}/d{1...4}").value(),
            (strings{"/mnt/disk1/d1", "/mnt/disk2/d1", "/mnt/disk1/d2", "/mnt/disk2/d2", "/mnt/disk1/d3",
                     "/mnt/disk2/d3", "/mnt/disk1/d4", "/mnt/disk2/d4"}));
  const auto hosts = expand_ellipsis("http://host{1...4}/disk{1...4}").value();
  ASSERT_EQ(hosts.size(), 16u);
  EXPECT_EQ(hosts[0], "http://host1/disk1");
  EXPECT_EQ(hosts[1], "http://host2/disk1");
  EXPECT_EQ(hosts[4], "http://host1/disk2");
  EXPECT_EQ(hosts[15], "http://host4/disk4");
  EXPECT_EQ(expand_ellipsis("{1...2}{1...2}{1...2}").value(),
            (strings{"111", "211", "121", "221", "112", "212", "122", "222"}));
}

TEST(Layout, EllipsisErrors) {
  for (const char* bad :
       {"", "/d{1..4}", "/d{4...1}", "/d{4...02}", "/d{a...z}", "/d{1...2O}", "/d{1...4", "/d1...4}",
        "/d{{1...4}}", "/d{}", "/d{...}", "/d{-1...1}", "/d{1....4}", "/d{1...}", "/d{1...4}{1..2.}",
        "/d{1...1000000}", "/d{1...300}/{1...300}", "/d{1234567890...1234567891}"}) {
    auto r = expand_ellipsis(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_TRUE(r.error().is(errc::bad_ellipsis)) << bad;
  }
}

TEST(Layout, SipHashReferenceVector) {
  // SipHash-2-4 paper, appendix A: key 00..0f, message 00..0e.
  std::vector<std::byte> msg(15);
  for (int i = 0; i < 15; ++i) msg[i] = std::byte(i);
  EXPECT_EQ(internal::siphash24(0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull, msg), 0xa129ca6149be45e5ull);
  // Empty message, same key (first entry of the reference vectors.h).
  EXPECT_EQ(internal::siphash24(0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull, {}), 0x726fdb47dd0e0e31ull);
}

deployment_id test_id() {
  deployment_id id;
  for (int i = 0; i < 16; ++i) id[i] = uint8_t(0x30 + i);
  return id;
}

TEST(Layout, PlacementIsStableAndKeyed) {
  const auto id = test_id();
  // Pinned values: placement must never change for an existing deployment.
  EXPECT_EQ(set_for_key("photos", "2024/01/cat.jpg", 4, id), 3);
  EXPECT_EQ(set_for_key("photos", "2024/01/dog.jpg", 4, id), 2);
  EXPECT_EQ(set_for_key("logs", "2024/01/cat.jpg", 16, id), 9);
  EXPECT_EQ(set_for_key("b", "k", 1, id), 0);
  auto other = id;
  other[0] ^= 1;
  int moved = 0;
  for (int i = 0; i < 1000; ++i) {
    const std::string key = "key-" + std::to_string(i);
    moved += set_for_key("b", key, 8, id) != set_for_key("b", key, 8, other);
  }
  EXPECT_GT(moved, 800);  // another deployment id gives an unrelated placement (7/8 expected to move)
}

TEST(Layout, PlacementSpreadsEvenly) {
  const auto id = test_id();
  // 10k keys over 4 or 3 sets: each within 10% of its share (over 3 sigma).
  // 16 sets need more keys for the same margin in sigmas.
  for (auto [sets, keys] : {std::pair{4, 10000}, std::pair{3, 10000}, std::pair{16, 40000}}) {
    std::vector<int> count(sets);
    for (int i = 0; i < keys; ++i) {
      const int s = set_for_key("bucket", "dir/object-" + std::to_string(i) + ".bin", sets, id);
      ASSERT_GE(s, 0);
      ASSERT_LT(s, sets);
      ++count[s];
    }
    const double expected = double(keys) / sets;
    for (int s = 0; s < sets; ++s) {
      EXPECT_GT(count[s], expected * 0.9) << sets << " sets, set " << s;
      EXPECT_LT(count[s], expected * 1.1) << sets << " sets, set " << s;
    }
  }
}

TEST(Layout, ShardOrderMatchesMinio) {
  // MinIO's TestHashOrder (cmd/erasure-metadata-utils_test.go), 1-based there.
  auto minio = [](std::string_view key) {
    auto order = shard_order(key, 16);
    for (auto& v : order) ++v;
    return order;
  };
  EXPECT_EQ(minio("object"), (std::vector<int>{14, 15, 16, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13}));
  EXPECT_EQ(minio("The Shining Script <v1>.pdf"),
            (std::vector<int>{16, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}));
  EXPECT_EQ(minio("117Gn8rfHL2ACARPAhaFd0AGzic9pUbIA/5OCn5A"),
            (std::vector<int>{3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 1, 2}));
  EXPECT_EQ(minio("/a/b/c"), (std::vector<int>{6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 1, 2, 3, 4, 5}));
  EXPECT_TRUE(shard_order("x", 0).empty());
  EXPECT_EQ(shard_order("x", 1), (std::vector<int>{0}));
}

TEST(Layout, ShardOrderIsAPermutation) {
  for (int n = 1; n <= 16; ++n) {
    for (int i = 0; i < 50; ++i) {
      const auto order = shard_order("obj" + std::to_string(i), n);
      ASSERT_EQ(order.size(), size_t(n));
      EXPECT_EQ(std::set<int>(order.begin(), order.end()).size(), size_t(n));
      EXPECT_EQ(*std::min_element(order.begin(), order.end()), 0);
      EXPECT_EQ(*std::max_element(order.begin(), order.end()), n - 1);
    }
  }
}

}  // namespace
}  // namespace sluice::objstore::erasure
