#include "stream/wal/format.h"

#include <isa-l/crc.h>

#include <algorithm>
#include <climits>

namespace sluice::stream::wal::format {

uint32_t crc32c(const void* data, size_t n, uint32_t crc) {
  // crc32_iscsi works on the inverted register and takes an int length.
  uint32_t reg = ~crc;
  auto* p = static_cast<unsigned char*>(const_cast<void*>(data));
  while (n > 0) {
    int k = static_cast<int>(std::min<size_t>(n, INT_MAX & ~size_t{4095}));
    reg = crc32_iscsi(p, k, reg);
    p += k;
    n -= static_cast<size_t>(k);
  }
  return ~reg;
}

void encode_header(const header& h, char* out) {
  std::memset(out, 0, kHeaderBytes);
  put32(out + 0, kHeaderMagic);
  put32(out + 4, kVersion);
  put32(out + 8, h.block_size);
  put32(out + 12, h.flags);
  put64(out + 16, h.capacity);
  put64(out + 24, h.nonce);
  put64(out + 32, h.seq);
  put64(out + 40, h.trim);
  put64(out + 48, h.scan_start);
  put64(out + 56, h.max_unflushed);
  put64(out + 64, h.clean_end);
  put32(out + 76, crc32c(out, 76));
}

std::optional<header> decode_header(const char* in) {
  if (get32(in) != kHeaderMagic || get32(in + 4) != kVersion || get32(in + 72) != 0) return std::nullopt;
  if (get32(in + 76) != crc32c(in, 76)) return std::nullopt;
  header h;
  h.block_size = get32(in + 8);
  h.flags = get32(in + 12);
  h.capacity = get64(in + 16);
  h.nonce = get64(in + 24);
  h.seq = get64(in + 32);
  h.trim = get64(in + 40);
  h.scan_start = get64(in + 48);
  h.max_unflushed = get64(in + 56);
  h.clean_end = get64(in + 64);
  return h;
}

uint32_t nonce_seed(uint64_t nonce) {
  char b[8];
  put64(b, nonce);
  return crc32c(b, sizeof b);
}

void encode_record_header(const record_header& h, uint32_t seed, char* out) {
  put32(out + 0, kRecordMagic);
  put32(out + 4, h.flags);
  put64(out + 8, h.offset);
  put32(out + 16, h.length);
  put32(out + 20, h.payload_crc);
  put32(out + 24, 0);
  put32(out + 28, crc32c(out, 28, seed));
}

std::optional<record_header> decode_record_header(const char* in, uint32_t seed) {
  if (get32(in) != kRecordMagic || get32(in + 24) != 0) return std::nullopt;
  if (get32(in + 28) != crc32c(in, 28, seed)) return std::nullopt;
  record_header h;
  h.flags = get32(in + 4);
  h.offset = get64(in + 8);
  h.length = get32(in + 16);
  h.payload_crc = get32(in + 20);
  return h;
}

}  // namespace sluice::stream::wal::format
