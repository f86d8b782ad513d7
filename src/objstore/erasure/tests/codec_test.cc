#include "objstore/erasure/codec.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <random>
#include <thread>

namespace sluice::objstore::erasure {
namespace {

// One block's k+m shards in owned buffers, with span views for the codec.
// Assign to bufs[i] only with same-size contents, or the view dangles.
struct shard_set {
  std::vector<std::vector<std::byte>> bufs;
  std::vector<std::span<std::byte>> views;
  shard_set(int n, size_t len) : bufs(n, std::vector<std::byte>(len)) {
    for (auto& b : bufs) views.emplace_back(b);
  }
  shard_set(const shard_set&) = delete;  // views point into bufs
};

std::vector<std::byte> random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::byte> out(n);
  for (auto& b : out) b = std::byte(rng());
  return out;
}

std::vector<bool> present_from_lost(uint32_t lost_mask, int n) {
  std::vector<bool> present(n);
  for (int i = 0; i < n; ++i) present[i] = !(lost_mask & (1u << i));
  return present;
}

TEST(Codec, RejectsBadGeometry) {
  EXPECT_TRUE(codec::make(0, 1).error().is(errc::bad_geometry));
  EXPECT_TRUE(codec::make(2, -1).error().is(errc::bad_geometry));
  EXPECT_TRUE(codec::make(13, 4).error().is(errc::bad_geometry));
  EXPECT_TRUE(codec::make(1, 0).has_value());
  EXPECT_TRUE(codec::make(16, 0).has_value());
  EXPECT_TRUE(codec::make(8, 8).has_value());
}

TEST(Codec, ShardSizeRoundsUp) {
  auto c = codec::make(12, 4).value();
  EXPECT_EQ(c.shard_size(0), 0u);
  EXPECT_EQ(c.shard_size(1), 1u);
  EXPECT_EQ(c.shard_size(12), 1u);
  EXPECT_EQ(c.shard_size(13), 2u);
  EXPECT_EQ(c.shard_size(1 << 20), 87382u);  // MinIO: ceilFrac(blockSize, dataBlocks)
}

TEST(Codec, EncodeSplitsAndPadsDataShards) {
  auto c = codec::make(4, 2).value();
  const auto block = random_bytes(10, 1);  // shard size 3: 3+3+3+1, last padded with 2 zeros
  shard_set s(6, c.shard_size(block.size()));
  ASSERT_TRUE(c.encode(block, s.views));
  EXPECT_TRUE(std::equal(block.begin(), block.begin() + 3, s.bufs[0].begin()));
  EXPECT_TRUE(std::equal(block.begin() + 9, block.end(), s.bufs[3].begin()));
  EXPECT_EQ(s.bufs[3][1], std::byte{0});
  EXPECT_EQ(s.bufs[3][2], std::byte{0});
  std::vector<std::byte> back(block.size());
  ASSERT_TRUE(c.join(s.views, back));
  EXPECT_EQ(back, block);
}

TEST(Codec, RejectsWrongBuffers) {
  auto c = codec::make(4, 2).value();
  const auto block = random_bytes(100, 2);
  shard_set five(5, c.shard_size(100));
  EXPECT_TRUE(c.encode(block, five.views).error().is(errc::bad_argument));
  shard_set wrong(6, c.shard_size(100) + 1);
  EXPECT_TRUE(c.encode(block, wrong.views).error().is(errc::bad_argument));
  shard_set s(6, c.shard_size(100));
  EXPECT_TRUE(c.reconstruct(s.views, std::vector<bool>(5, true), false).error().is(errc::bad_argument));
  s.bufs[5].resize(3);
  s.views[5] = s.bufs[5];
  EXPECT_TRUE(c.reconstruct(s.views, present_from_lost(1, 6), false).error().is(errc::bad_argument));
  std::vector<std::byte> too_big(4 * c.shard_size(100) + 1);
  EXPECT_TRUE(c.join(s.views, too_big).error().is(errc::bad_argument));
}

// Golden parity for a fixed block: the shards on disk depend on ISA-L's Cauchy
// matrix, so if a library upgrade ever changed it, objects written before
// would no longer decode. This test is that alarm; never "fix" it by updating
// the constants.
TEST(Codec, ParityIsStableAcrossVersions) {
  auto c = codec::make(4, 2).value();
  std::vector<std::byte> block(32);
  for (size_t i = 0; i < block.size(); ++i) block[i] = std::byte(i * 31 + 7);
  shard_set s(6, c.shard_size(block.size()));
  ASSERT_TRUE(c.encode(block, s.views));
  auto hex = [](const std::vector<std::byte>& v) {
    std::string out;
    for (auto b : v) out += "0123456789abcdef"[int(b) >> 4], out += "0123456789abcdef"[int(b) & 15];
    return out;
  };
  EXPECT_EQ(hex(s.bufs[4]), "307175d97d3c3894");
  EXPECT_EQ(hex(s.bufs[5]), "bd07a1aff04aece2");
}

// For every loss pattern of at most m shards: rebuild everything and compare
// byte for byte with the original encoding; then again data-only, checking
// that missing parity buffers are left alone.
void exhaustive_round_trip(int k, int m, size_t block_len, uint32_t seed) {
  SCOPED_TRACE("k=" + std::to_string(k) + " m=" + std::to_string(m) + " len=" + std::to_string(block_len));
  auto c = codec::make(k, m).value();
  const int n = k + m;
  const auto block = random_bytes(block_len, seed);
  const size_t len = c.shard_size(block_len);
  shard_set want(n, len);
  ASSERT_TRUE(c.encode(block, want.views));
  shard_set got(n, len);
  int patterns = 0;
  for (uint32_t lost = 0; lost < (1u << n); ++lost) {
    if (std::popcount(lost) > m) continue;
    ++patterns;
    const auto present = present_from_lost(lost, n);
    for (int data_only = 0; data_only < 2; ++data_only) {
      for (int i = 0; i < n; ++i) {
        if (present[i])
          got.bufs[i] = want.bufs[i];
        else
          std::fill(got.bufs[i].begin(), got.bufs[i].end(), std::byte{0xa5});
      }
      auto r = c.reconstruct(got.views, present, data_only != 0);
      ASSERT_TRUE(r) << "lost mask " << lost << ": " << r.error().message();
      for (int i = 0; i < n; ++i) {
        if (data_only && i >= k && !present[i]) {
          ASSERT_TRUE(std::all_of(got.bufs[i].begin(), got.bufs[i].end(),
                                  [](std::byte b) { return b == std::byte{0xa5}; }))
              << "parity " << i << " touched in data-only mode, lost mask " << lost;
          continue;
        }
        ASSERT_EQ(got.bufs[i], want.bufs[i])
            << "shard " << i << " lost mask " << lost << " data_only " << data_only;
      }
      std::vector<std::byte> back(block_len);
      ASSERT_TRUE(c.join(got.views, back));
      ASSERT_EQ(back, block);
    }
  }
  int expected = 0;
  for (int j = 0; j <= m; ++j) {
    int64_t binom = 1;
    for (int t = 0; t < j; ++t) binom = binom * (n - t) / (t + 1);
    expected += int(binom);
  }
  EXPECT_EQ(patterns, expected);
}

struct geometry {
  int k, m;
};

class CodecExhaustive : public ::testing::TestWithParam<geometry> {};

TEST_P(CodecExhaustive, EveryLossPatternUpToParityDecodes) {
  const auto [k, m] = GetParam();
  uint32_t seed = 1;
  for (size_t len : {size_t(1), size_t(k), size_t(k) + 1, size_t(4099)})
    exhaustive_round_trip(k, m, len, seed++);
  // A larger odd block where the pattern count keeps it quick (not 8+8: 39203 patterns).
  if (k + m <= 16 && m <= 4) exhaustive_round_trip(k, m, 65536 + 3, seed);
}

TEST_P(CodecExhaustive, MoreThanParityLostIsAnError) {
  const auto [k, m] = GetParam();
  const int n = k + m;
  auto c = codec::make(k, m).value();
  const auto block = random_bytes(1000, 9);
  shard_set s(n, c.shard_size(block.size()));
  ASSERT_TRUE(c.encode(block, s.views));
  const auto before = s.bufs;
  const uint32_t lost = (1u << (m + 1)) - 1;  // shards 0..m: one more than parity
  for (bool data_only : {false, true}) {
    auto r = c.reconstruct(s.views, present_from_lost(lost, n), data_only);
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(errc::too_few_shards)) << r.error().message();
    EXPECT_EQ(s.bufs, before);  // nothing written
  }
}

INSTANTIATE_TEST_SUITE_P(Geometries, CodecExhaustive,
                         ::testing::Values(geometry{1, 0}, geometry{2, 1}, geometry{2, 2}, geometry{4, 2},
                                           geometry{6, 3}, geometry{4, 4}, geometry{12, 4}, geometry{8, 8},
                                           geometry{16, 0}, geometry{1, 1}),
                         [](const auto& info) {
                           std::string name = std::to_string(info.param.k);
                           name.append("_").append(std::to_string(info.param.m));
                           return name;
                         });

TEST(Codec, FullMegabyteBlockDegradedRead) {
  auto c = codec::make(12, 4).value();
  const auto block = random_bytes(1 << 20, 5);
  shard_set want(16, c.shard_size(block.size()));
  ASSERT_TRUE(c.encode(block, want.views));
  shard_set got(16, c.shard_size(block.size()));
  for (int i = 0; i < 16; ++i) got.bufs[i] = want.bufs[i];
  const auto present = present_from_lost(0b1000'0000'1010'0001, 16);  // data 0, 5, 7 and parity 15
  for (int i = 0; i < 16; ++i)
    if (!present[i]) std::fill(got.bufs[i].begin(), got.bufs[i].end(), std::byte{0});
  ASSERT_TRUE(c.reconstruct(got.views, present, false));
  EXPECT_EQ(got.bufs, want.bufs);
}

TEST(Codec, EncodeParityInPlaceMatchesEncode) {
  auto c = codec::make(8, 4).value();
  const auto block = random_bytes(8 * 1024, 6);
  shard_set a(12, 1024);
  ASSERT_TRUE(c.encode(block, a.views));
  // Data shards as slices of the caller's block, parity in separate buffers.
  auto mutable_block = block;
  std::vector<std::vector<std::byte>> parity(4, std::vector<std::byte>(1024));
  std::vector<std::span<std::byte>> views;
  for (int i = 0; i < 8; ++i) views.push_back(std::span(mutable_block).subspan(i * 1024, 1024));
  for (auto& p : parity) views.emplace_back(p);
  ASSERT_TRUE(c.encode_parity(views));
  for (int i = 0; i < 4; ++i) EXPECT_EQ(parity[i], a.bufs[8 + i]);
}

// Many threads, many patterns (more than the plan cache holds), one codec.
TEST(Codec, ConcurrentReconstructWithCacheEviction) {
  auto c = codec::make(12, 4).value();
  const auto block = random_bytes(12 * 256, 7);
  shard_set want(16, 256);
  ASSERT_TRUE(c.encode(block, want.views));
  std::vector<uint32_t> patterns;
  for (uint32_t lost = 1; lost < (1u << 16); ++lost)
    if (std::popcount(lost) <= 4) patterns.push_back(lost);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      auto order = patterns;
      std::shuffle(order.begin(), order.end(), rng);
      shard_set got(16, 256);
      for (size_t p = 0; p < order.size() / 2; ++p) {
        const auto present = present_from_lost(order[p], 16);
        for (int i = 0; i < 16; ++i) {
          if (present[i])
            got.bufs[i] = want.bufs[i];  // same size: keeps the buffer the view points at
          else
            std::fill(got.bufs[i].begin(), got.bufs[i].end(), std::byte{0});
        }
        if (!c.reconstruct(got.views, present, false) || got.bufs != want.bufs) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST(Codec, CopiesShareTables) {
  auto c = codec::make(4, 2).value();
  codec copy = c;
  const auto block = random_bytes(400, 8);
  shard_set a(6, 100), b(6, 100);
  ASSERT_TRUE(c.encode(block, a.views));
  ASSERT_TRUE(copy.encode(block, b.views));
  EXPECT_EQ(a.bufs, b.bufs);
}

}  // namespace
}  // namespace sluice::objstore::erasure
