#include "objstore/erasure/bitrot.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace sluice::objstore::erasure {
namespace {

// A shard file in memory.
class memory_file final : public shard_sink, public shard_source {
 public:
  std::vector<std::byte> bytes;

  result<void> append(std::span<const std::span<const std::byte>> parts) override {
    for (const auto& p : parts) bytes.insert(bytes.end(), p.begin(), p.end());
    return ok();
  }
  result<size_t> read_at(std::span<const std::span<std::byte>> parts, uint64_t offset) override {
    size_t total = 0;
    for (const auto& p : parts) {
      if (offset >= bytes.size()) break;
      const size_t n = std::min<uint64_t>(p.size(), bytes.size() - offset);
      std::copy_n(bytes.begin() + offset, n, p.begin());
      total += n;
      offset += n;
      if (n < p.size()) break;
    }
    return total;
  }
};

std::vector<std::byte> random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::byte> out(n);
  for (auto& b : out) b = std::byte(rng());
  return out;
}

// Writes random shard blocks for a layout; returns them for comparison.
std::vector<std::vector<std::byte>> write_shard(shard_sink& sink, const shard_layout& layout) {
  std::vector<std::vector<std::byte>> blocks;
  bitrot_writer w(sink, layout.full_shard_block_len());
  for (uint64_t i = 0; i < layout.block_count(); ++i) {
    blocks.push_back(random_bytes(layout.shard_block_len(i), uint32_t(i + 1)));
    EXPECT_TRUE(w.write_block(blocks.back()));
  }
  EXPECT_EQ(w.blocks_written(), layout.block_count());
  EXPECT_EQ(w.bytes_written(), layout.file_size());
  return blocks;
}

TEST(Bitrot, ChecksumIsXxh3_128Canonical) {
  // XXH3-128 of the empty input, seed 0 (xxHash's published test vector),
  // stored big-endian. Pins the on-disk checksum format.
  const checksum empty = block_checksum({}, 0);
  const checksum want = {std::byte{0x99}, std::byte{0xaa}, std::byte{0x06}, std::byte{0xd3},
                         std::byte{0x01}, std::byte{0x47}, std::byte{0x98}, std::byte{0xd8},
                         std::byte{0x60}, std::byte{0x01}, std::byte{0xc3}, std::byte{0x24},
                         std::byte{0x46}, std::byte{0x8d}, std::byte{0x49}, std::byte{0x7f}};
  EXPECT_EQ(empty, want);
  const auto data = random_bytes(100, 1);
  EXPECT_NE(block_checksum(data, 0), block_checksum(data, 1));  // seeded by block index
}

TEST(Bitrot, LayoutMath) {
  const uint64_t mib = default_block_size;
  EXPECT_EQ(shard_file_size(0, mib, 4), 0u);
  EXPECT_EQ(shard_file_size(1, mib, 4), 16u + 1);
  EXPECT_EQ(shard_file_size(mib, mib, 4), 16u + mib / 4);
  EXPECT_EQ(shard_file_size(mib * 5 / 2, mib, 4), 2 * (16 + mib / 4) + 16 + mib / 8);
  // k = 12 does not divide 1 MiB: full shard blocks are ceil(2^20 / 12) = 87382.
  shard_layout l{3 * mib + 13, mib, 12};
  EXPECT_EQ(l.block_count(), 4u);
  EXPECT_EQ(l.full_shard_block_len(), 87382u);
  EXPECT_EQ(l.shard_block_len(0), 87382u);
  EXPECT_EQ(l.shard_block_len(3), 2u);
  EXPECT_EQ(l.block_len(3), 13u);
  EXPECT_EQ(l.block_len(4), 0u);
  EXPECT_EQ(l.block_offset(3), 3 * (16 + 87382u));
  EXPECT_EQ(l.file_size(), 3 * (16 + 87382u) + 16 + 2);
}

TEST(Bitrot, BlockRange) {
  const uint64_t bs = 1000;
  EXPECT_EQ(block_range(0, 0, bs), std::nullopt);
  EXPECT_EQ(block_range(5000, 0, bs), std::nullopt);
  EXPECT_EQ(block_range(0, 1, bs), (block_span{0, 0}));
  EXPECT_EQ(block_range(0, bs, bs), (block_span{0, 0}));
  EXPECT_EQ(block_range(0, bs + 1, bs), (block_span{0, 1}));
  EXPECT_EQ(block_range(bs - 1, 1, bs), (block_span{0, 0}));
  EXPECT_EQ(block_range(bs - 1, 2, bs), (block_span{0, 1}));
  EXPECT_EQ(block_range(bs, bs, bs), (block_span{1, 1}));
  EXPECT_EQ(block_range(2500, 3000, bs), (block_span{2, 5}));
  EXPECT_EQ(block_range(2500, 3000, bs)->count(), 4u);
  const uint64_t max = std::numeric_limits<uint64_t>::max();
  EXPECT_EQ(block_range(max - 1, 10, bs), (block_span{(max - 1) / bs, max / bs}));  // clamped, no wrap
  EXPECT_EQ(block_range(max, 1, bs), (block_span{max / bs, max / bs}));
}

TEST(Bitrot, RoundTrip) {
  for (uint64_t size :
       {uint64_t(0), uint64_t(1), uint64_t(4095), uint64_t(4096), uint64_t(4097), uint64_t(3 * 4096 + 5)}) {
    SCOPED_TRACE("object size " + std::to_string(size));
    const shard_layout layout{size, 4096, 3};
    memory_file f;
    const auto blocks = write_shard(f, layout);
    ASSERT_EQ(f.bytes.size(), shard_file_size(size, 4096, 3));
    bitrot_reader r(f, layout);
    for (uint64_t i = 0; i < layout.block_count(); ++i) {
      std::vector<std::byte> out(layout.shard_block_len(i));
      ASSERT_TRUE(r.read_block(i, out));
      EXPECT_EQ(out, blocks[i]);
    }
    EXPECT_TRUE(r.verify_all());
  }
}

TEST(Bitrot, FlippedByteFailsOnlyItsBlock) {
  const shard_layout layout{4 * 4096, 4096, 4};  // 4 blocks of 1024 shard bytes
  for (size_t where :
       {size_t(0), size_t(15), size_t(16), size_t(16 + 1023)}) {  // checksum or data of block 2
    memory_file f;
    write_shard(f, layout);
    f.bytes[layout.block_offset(2) + where] ^= std::byte{0x01};
    bitrot_reader r(f, layout);
    std::vector<std::byte> out(1024);
    for (uint64_t i = 0; i < 4; ++i) {
      auto res = r.read_block(i, out);
      if (i == 2) {
        ASSERT_FALSE(res);
        EXPECT_TRUE(res.error().is(errc::bitrot_mismatch)) << res.error().message();
        EXPECT_NE(res.error().message().find("block 2"), std::string::npos);
      } else {
        EXPECT_TRUE(res) << "block " << i;
      }
    }
    EXPECT_TRUE(r.verify_all().error().is(errc::bitrot_mismatch));
  }
}

TEST(Bitrot, BlockAtWrongOffsetDetected) {
  // Block 1's bytes (with its own valid checksum) where block 2 belongs.
  const shard_layout layout{3 * 4096, 4096, 4};
  memory_file f;
  write_shard(f, layout);
  const auto stride = layout.block_offset(1);
  std::copy_n(f.bytes.begin() + stride, stride, f.bytes.begin() + 2 * stride);
  bitrot_reader r(f, layout);
  std::vector<std::byte> out(1024);
  EXPECT_TRUE(r.read_block(1, out));
  EXPECT_TRUE(r.read_block(2, out).error().is(errc::bitrot_mismatch));
}

TEST(Bitrot, TruncatedAndOverlongFiles) {
  const shard_layout layout{3 * 4096 + 100, 4096, 4};  // last shard block 25 bytes
  memory_file f;
  write_shard(f, layout);
  const auto full = f.bytes;

  f.bytes.resize(full.size() - 1);  // cut inside the last block
  bitrot_reader r(f, layout);
  std::vector<std::byte> out(1024), last(25);
  EXPECT_TRUE(r.read_block(2, out));
  EXPECT_TRUE(r.read_block(3, last).error().is(errc::truncated_shard));
  EXPECT_TRUE(r.verify_all().error().is(errc::truncated_shard));

  f.bytes.resize(layout.block_offset(1) + 10);  // cut inside block 1's checksum+data
  EXPECT_TRUE(r.read_block(0, out));
  EXPECT_TRUE(r.read_block(1, out).error().is(errc::truncated_shard));
  EXPECT_TRUE(r.read_block(2, out).error().is(errc::truncated_shard));

  f.bytes = full;
  f.bytes.push_back(std::byte{0});  // trailing garbage
  EXPECT_TRUE(r.read_block(3, last));
  EXPECT_TRUE(r.verify_all().error().is(errc::bitrot_mismatch));
}

TEST(Bitrot, MisuseIsRejected) {
  memory_file f;
  bitrot_writer w(f, 100);
  EXPECT_TRUE(w.write_block({}).error().is(errc::bad_argument));
  EXPECT_TRUE(w.write_block(random_bytes(101, 1)).error().is(errc::bad_argument));
  EXPECT_TRUE(w.write_block(random_bytes(100, 1)));
  EXPECT_TRUE(w.write_block(random_bytes(40, 1)));                                  // short: the last block
  EXPECT_TRUE(w.write_block(random_bytes(100, 1)).error().is(errc::bad_argument));  // nothing after it
  EXPECT_EQ(w.blocks_written(), 2u);

  const shard_layout layout{140 * 4, 400, 4};  // blocks of 100 and 40 shard bytes
  bitrot_reader r(f, layout);
  std::vector<std::byte> out(100);
  EXPECT_TRUE(r.read_block(0, out));
  EXPECT_TRUE(r.read_block(2, out).error().is(errc::bad_argument));  // past the end
  EXPECT_TRUE(r.read_block(1, out).error().is(errc::bad_argument));  // wrong buffer size
  EXPECT_TRUE(r.verify_all());
}

TEST(Bitrot, FileDescriptorAdapters) {
  char path[] = "/tmp/sluice_bitrot_XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ::unlink(path);
  const shard_layout layout{5 * 65536 + 7, 65536, 6};
  fd_shard_sink sink(fd);
  const auto blocks = write_shard(sink, layout);
  fd_shard_source source(fd);
  bitrot_reader r(source, layout);
  EXPECT_TRUE(r.verify_all());
  std::vector<std::byte> out(layout.shard_block_len(5));
  ASSERT_TRUE(r.read_block(5, out));
  EXPECT_EQ(out, blocks[5]);
  ASSERT_EQ(::ftruncate(fd, off_t(layout.file_size() - 1)), 0);
  EXPECT_TRUE(r.read_block(5, out).error().is(errc::truncated_shard));
  ::close(fd);
}

}  // namespace
}  // namespace sluice::objstore::erasure
