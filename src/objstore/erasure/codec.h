#pragma once
// Reed-Solomon erasure code over GF(2^8) (ISA-L), as used by an erasure set:
// a block of an object (default 1 MiB) is split into k data shards of
// shard_size(block_len) = ceil(block_len / k) bytes, the last one zero-padded
// (as MinIO does), and m parity shards of the same size are computed. Any k of
// the k+m shards give back all the others.
//
// The generator matrix is ISA-L's Cauchy matrix (identity on top, so data
// shards are the block's bytes verbatim): every k x k sub-matrix of it is
// invertible, so every pattern of up to m lost shards decodes. Shards are NOT
// byte-compatible with MinIO's (klauspost/reedsolomon uses a Vandermonde-derived
// matrix); Sluice reads only what Sluice wrote.
//
// Thread safety: a codec is immutable after make() except for its decode-table
// cache, which is guarded; every method may be called concurrently. Copies
// share the encode tables and the cache.
#include <cstddef>
#include <memory>
#include <span>
#include <vector>

#include "base/result.h"
#include "objstore/erasure/errc.h"

namespace sluice::objstore::erasure {

class codec {
 public:
  // Limits of a MinIO erasure set: at most 16 drives.
  static constexpr int max_shards = 16;

  // 1 <= data_shards, 0 <= parity_shards, data_shards + parity_shards <= 16;
  // otherwise errc::bad_geometry. Whether a parity suits a set size is a
  // layout policy (layout.h: validate_parity), not checked here.
  static result<codec> make(int data_shards, int parity_shards);

  int data_shards() const { return k_; }
  int parity_shards() const { return m_; }
  int total_shards() const { return k_ + m_; }

  // Bytes in each shard of a block of block_len bytes: ceil(block_len / k).
  size_t shard_size(size_t block_len) const { return (block_len + k_ - 1) / k_; }

  // Splits `block` into the k data shards (zero-padding the last) and computes
  // the m parity shards. `shards` holds k+m buffers of shard_size(block.size())
  // bytes each, data first; errc::bad_argument otherwise.
  result<void> encode(std::span<const std::byte> block, std::span<const std::span<std::byte>> shards) const;

  // Computes parity shards [k, k+m) from data shards [0, k) already in place
  // (all k+m buffers of one size). Lets a writer encode without copying when
  // the data shards are slices of its own buffer.
  result<void> encode_parity(std::span<const std::span<std::byte>> shards) const;

  // Rebuilds the shards whose present[i] is false from any k present ones.
  // All data shards are rebuilt; parity shards too unless data_only (a reader
  // needs only data; healing needs all). Buffers of present shards and of
  // shards to rebuild must be of one size; others are not touched.
  // Fewer than k present -> errc::too_few_shards, nothing written.
  // Decode tables are cached per pattern of present shards (bounded), since a
  // degraded object repeats the same pattern for every block.
  result<void> reconstruct(std::span<const std::span<std::byte>> shards, const std::vector<bool>& present,
                           bool data_only) const;

  // Copies the first block_out.size() bytes of the block back out of the data
  // shards (the inverse of encode's split). block_out.size() must not exceed
  // k * shard size.
  result<void> join(std::span<const std::span<std::byte>> shards, std::span<std::byte> block_out) const;

 private:
  struct state;
  codec(int k, int m, std::shared_ptr<state> s) : k_(k), m_(m), state_(std::move(s)) {}

  int k_;
  int m_;
  std::shared_ptr<state> state_;
};

}  // namespace sluice::objstore::erasure
