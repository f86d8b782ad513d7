#include "objstore/erasure/bitrot.h"

#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#if defined(__x86_64__) && __has_include(<xxh_x86dispatch.h>)
// Debian's libxxhash.so picks the widest SIMD at run time (SSE2/AVX2/AVX-512);
// the plain entry points are built for the baseline (SSE2) only.
#include <xxh_x86dispatch.h>
#define SLUICE_XXH3_128 XXH3_128bits_withSeed_dispatch
#else
#include <xxhash.h>
#define SLUICE_XXH3_128 XXH3_128bits_withSeed
#endif

namespace sluice::objstore::erasure {

namespace {

constexpr int kMaxIov = 16;

// Advances an iovec array past n transferred bytes; returns the new start.
iovec* advance(iovec* iov, int& count, size_t n) {
  while (count > 0 && n >= iov->iov_len) {
    n -= iov->iov_len;
    ++iov;
    --count;
  }
  if (count > 0) {
    iov->iov_base = static_cast<char*>(iov->iov_base) + n;
    iov->iov_len -= n;
  }
  return iov;
}

}  // namespace

checksum block_checksum(std::span<const std::byte> shard_block, uint64_t block_index) {
  const XXH128_hash_t h = SLUICE_XXH3_128(shard_block.data(), shard_block.size(), block_index);
  XXH128_canonical_t canon;
  XXH128_canonicalFromHash(&canon, h);
  checksum out;
  static_assert(sizeof(canon.digest) == checksum_size);
  std::memcpy(out.data(), canon.digest, checksum_size);
  return out;
}

uint64_t shard_layout::block_len(uint64_t i) const {
  const uint64_t start = i * block_size;
  return start >= object_size ? 0 : std::min(block_size, object_size - start);
}

size_t shard_layout::shard_block_len(uint64_t i) const {
  return size_t((block_len(i) + data_shards - 1) / uint64_t(data_shards));
}

uint64_t shard_layout::file_size() const {
  const uint64_t n = block_count();
  if (n == 0) return 0;
  return block_offset(n - 1) + checksum_size + shard_block_len(n - 1);
}

std::optional<block_span> block_range(uint64_t offset, uint64_t length, uint64_t block_size) {
  if (length == 0) return std::nullopt;
  const uint64_t max = std::numeric_limits<uint64_t>::max();
  const uint64_t end = length - 1 > max - offset ? max : offset + (length - 1);  // last byte, inclusive
  return block_span{offset / block_size, end / block_size};
}

result<void> fd_shard_sink::append(std::span<const std::span<const std::byte>> parts) {
  if (parts.size() > size_t(kMaxIov)) return fail(errc::bad_argument, "too many parts in one append");
  iovec vec[kMaxIov];
  int count = 0;
  for (const auto& p : parts)
    if (!p.empty()) vec[count++] = {const_cast<std::byte*>(p.data()), p.size()};
  iovec* iov = vec;
  while (count > 0) {
    const ssize_t n = ::writev(fd_, iov, count);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(errno_error("writev shard", errno));
    }
    iov = advance(iov, count, size_t(n));
  }
  return ok();
}

result<size_t> fd_shard_source::read_at(std::span<const std::span<std::byte>> parts, uint64_t offset) {
  if (parts.size() > size_t(kMaxIov)) return fail(errc::bad_argument, "too many parts in one read");
  iovec vec[kMaxIov];
  int count = 0;
  for (const auto& p : parts)
    if (!p.empty()) vec[count++] = {p.data(), p.size()};
  iovec* iov = vec;
  size_t total = 0;
  while (count > 0) {
    const ssize_t n = ::preadv(fd_, iov, count, off_t(offset + total));
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(errno_error("preadv shard", errno));
    }
    if (n == 0) break;  // end of file
    total += size_t(n);
    iov = advance(iov, count, size_t(n));
  }
  return total;
}

result<void> bitrot_writer::write_block(std::span<const std::byte> shard_block) {
  if (closed_) return fail(errc::bad_argument, "shard block after the short last block");
  if (shard_block.empty() || shard_block.size() > full_len_)
    return fail(errc::bad_argument, "shard block of " + std::to_string(shard_block.size()) +
                                        " bytes, full size " + std::to_string(full_len_));
  const checksum sum = block_checksum(shard_block, blocks_);
  const std::span<const std::byte> parts[] = {sum, shard_block};
  SLUICE_TRY(sink_.append(parts));
  ++blocks_;
  bytes_ += checksum_size + shard_block.size();
  closed_ = shard_block.size() < full_len_;
  return ok();
}

result<void> bitrot_reader::read_block(uint64_t index, std::span<std::byte> out) const {
  if (index >= layout_.block_count())
    return fail(errc::bad_argument, "block " + std::to_string(index) + " past the end of the object");
  const size_t len = layout_.shard_block_len(index);
  if (out.size() != len) return fail(errc::bad_argument, "buffer size differs from the shard block size");
  checksum stored;
  const std::span<std::byte> parts[] = {stored, out};
  SLUICE_TRY(size_t n, source_.read_at(parts, layout_.block_offset(index)));
  if (n != checksum_size + len)
    return fail(errc::truncated_shard, "shard file ends inside block " + std::to_string(index));
  if (block_checksum(out, index) != stored)
    return fail(errc::bitrot_mismatch, "checksum mismatch in block " + std::to_string(index));
  return ok();
}

result<void> bitrot_reader::verify_all() const {
  const uint64_t n = layout_.block_count();
  std::vector<std::byte> buf(n > 0 ? layout_.full_shard_block_len() : 0);
  for (uint64_t i = 0; i < n; ++i) {
    SLUICE_TRY(read_block(i, std::span(buf).first(layout_.shard_block_len(i))));
  }
  std::byte extra[1];
  const std::span<std::byte> parts[] = {extra};
  SLUICE_TRY(size_t more, source_.read_at(parts, layout_.file_size()));
  if (more != 0) return fail(errc::bitrot_mismatch, "bytes after the last block");
  return ok();
}

}  // namespace sluice::objstore::erasure
