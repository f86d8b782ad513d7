#pragma once
// Bitrot protection of shard files: every shard block is stored behind its own
// checksum, so a reader verifies exactly the blocks a range needs and a bad
// block marks only that shard as lost for that block (the codec rebuilds it).
//
// Shard file format, version 1 (algorithm name `bitrot_algorithm`, to be
// recorded with the object's erasure metadata together with block_size):
//
//   for each block i = 0 .. block_count-1 of the object:
//     checksum_i  16 bytes   XXH3-128 of shard_i, seed = i, canonical (big-endian) form
//     shard_i     ceil(len_i / k) bytes, len_i = block_size except for the last block
//
//   No header or trailer. Block i starts at i * (16 + ceil(block_size / k));
//   an empty object has an empty shard file. (MinIO's "streaming bitrot"
//   framing is the same shape with HighwayHash-256 in front of each block.)
//
// Why XXH3-128 and not MinIO's HighwayHash-256: bitrot checksums guard against
// media and firmware corruption, not an adversary (MinIO's key is a public
// constant, so it is not a MAC either). XXH3 with libxxhash's run-time SIMD
// dispatch hashes at memory speed (tens of GB/s per core, see
// bench/erasure_bench.cc), so verifying every block on every read costs little
// next to the erasure code; 128 bits make an undetected corruption vanishingly
// unlikely (2^-128 per block); and it ships in Debian (libxxhash-dev) while
// HighwayHash's package is a 2020 snapshot. Seeding with the block index also
// catches a block read from or written to the wrong offset, which a plain
// content hash would accept.
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "base/result.h"
#include "objstore/erasure/errc.h"

namespace sluice::objstore::erasure {

inline constexpr std::string_view bitrot_algorithm = "xxh3-128-seeded-v1";
inline constexpr size_t checksum_size = 16;
// MinIO's erasure block size (blockSizeV2 in cmd/object-api-common.go).
inline constexpr uint64_t default_block_size = uint64_t(1) << 20;

using checksum = std::array<std::byte, checksum_size>;

// The checksum stored in front of shard block `block_index`.
checksum block_checksum(std::span<const std::byte> shard_block, uint64_t block_index);

// Sizes and offsets of one object's shard files (the same for all k+m shards).
// block_size > 0 and data_shards >= 1 are preconditions.
struct shard_layout {
  uint64_t object_size = 0;
  uint64_t block_size = default_block_size;
  int data_shards = 1;

  uint64_t block_count() const { return (object_size + block_size - 1) / block_size; }
  // Object bytes in block i (block_size except for the last block).
  uint64_t block_len(uint64_t i) const;
  // Shard bytes of block i, without its checksum: ceil(block_len(i) / k).
  size_t shard_block_len(uint64_t i) const;
  // Shard bytes of a full block: ceil(block_size / k).
  size_t full_shard_block_len() const { return (block_size + data_shards - 1) / data_shards; }
  // Where block i (its checksum) starts in a shard file.
  uint64_t block_offset(uint64_t i) const { return i * (checksum_size + full_shard_block_len()); }
  uint64_t file_size() const;
};

// Size of each shard file of an object of object_size bytes.
inline uint64_t shard_file_size(uint64_t object_size, uint64_t block_size, int data_shards) {
  return shard_layout{object_size, block_size, data_shards}.file_size();
}

// Blocks [first, last] (inclusive) holding object bytes [offset, offset+length).
// nullopt for length 0. block_size > 0 is a precondition; a range running past
// 2^64 is clamped.
struct block_span {
  uint64_t first = 0;
  uint64_t last = 0;
  uint64_t count() const { return last - first + 1; }
  friend bool operator==(const block_span&, const block_span&) = default;
};
std::optional<block_span> block_range(uint64_t offset, uint64_t length, uint64_t block_size);

// Where shard blocks go: appended in order to one shard file. An append of
// several parts is one write (writev); a failed append leaves the file
// unusable. Durability (fsync) is the owner's business.
class shard_sink {
 public:
  virtual ~shard_sink() = default;
  virtual result<void> append(std::span<const std::span<const std::byte>> parts) = 0;
};

// A shard file opened for reading: scatter read at an offset (preadv).
// Returns the bytes read, fewer than asked only at end of file.
class shard_source {
 public:
  virtual ~shard_source() = default;
  virtual result<size_t> read_at(std::span<const std::span<std::byte>> parts, uint64_t offset) = 0;
};

// Adapters over a file descriptor they do not own (writev / preadv, retrying
// short transfers and EINTR). Errors carry errno.
class fd_shard_sink final : public shard_sink {
 public:
  explicit fd_shard_sink(int fd) : fd_(fd) {}
  result<void> append(std::span<const std::span<const std::byte>> parts) override;

 private:
  int fd_;
};

class fd_shard_source final : public shard_source {
 public:
  explicit fd_shard_source(int fd) : fd_(fd) {}
  result<size_t> read_at(std::span<const std::span<std::byte>> parts, uint64_t offset) override;

 private:
  int fd_;
};

// Writes one shard file block by block. Not thread-safe; one per shard file.
class bitrot_writer {
 public:
  // full_shard_block_len: shard_layout::full_shard_block_len(), the size of
  // every block but the last.
  bitrot_writer(shard_sink& sink, size_t full_shard_block_len)
      : sink_(sink), full_len_(full_shard_block_len) {}

  // Appends [checksum | shard_block]. A block shorter than the full size ends
  // the file: later writes fail with errc::bad_argument, as do empty or
  // oversized blocks. Sink errors are returned as they are.
  result<void> write_block(std::span<const std::byte> shard_block);

  uint64_t blocks_written() const { return blocks_; }
  uint64_t bytes_written() const { return bytes_; }

 private:
  shard_sink& sink_;
  size_t full_len_;
  uint64_t blocks_ = 0;
  uint64_t bytes_ = 0;
  bool closed_ = false;
};

// Reads and verifies blocks of one shard file. Stateless between calls, so a
// const reader may serve concurrent reads if the source allows them.
class bitrot_reader {
 public:
  bitrot_reader(shard_source& source, const shard_layout& layout) : source_(source), layout_(layout) {}

  // Reads block `index` into `out` (exactly layout.shard_block_len(index)
  // bytes) and verifies it. Errors: errc::bad_argument (index or buffer size),
  // errc::truncated_shard (file ends early), errc::bitrot_mismatch, or the
  // source's own error. On error `out` holds garbage.
  result<void> read_block(uint64_t index, std::span<std::byte> out) const;

  // Reads and verifies every block and that nothing follows the last one
  // (a scrub for healing). Uses one shard-block-sized scratch buffer.
  result<void> verify_all() const;

  const shard_layout& layout() const { return layout_; }

 private:
  shard_source& source_;
  shard_layout layout_;
};

}  // namespace sluice::objstore::erasure
