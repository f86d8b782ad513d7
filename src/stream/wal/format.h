#pragma once
// The WAL's on-disk format, version 1 (src/stream/wal/README.md has the
// picture). Internal to the wal module and its tests; nothing here does I/O.
//
// All integers are little-endian. CRCs are CRC32C (Castagnoli, as in iSCSI and
// S3's x-amz-checksum-crc32c).
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

namespace sluice::stream::wal::format {

inline constexpr uint32_t kVersion = 1;
inline constexpr uint32_t kHeaderMagic = 0x48574c53;  // "SLWH" on disk
inline constexpr uint32_t kRecordMagic = 0x52574c53;  // "SLWR" on disk
inline constexpr size_t kHeaderSlots = 2;             // slot i is block i of the device
inline constexpr size_t kHeaderBytes = 80;  // meaningful bytes of a slot; the rest of the block is zero
inline constexpr size_t kRecordHeaderBytes = 32;

// Record flags.
inline constexpr uint32_t kLastInGroup = 1;  // the group ends here; the next group starts at the next block
// Header flags.
inline constexpr uint32_t kCleanShutdown = 1;  // close() flushed everything; clean_end is the log's end

uint32_t crc32c(const void* data, size_t n, uint32_t crc = 0);

inline void put32(char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>(v >> (8 * i));
}
inline void put64(char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<char>(v >> (8 * i));
}
inline uint32_t get32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = v << 8 | static_cast<unsigned char>(p[i]);
  return v;
}
inline uint64_t get64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = v << 8 | static_cast<unsigned char>(p[i]);
  return v;
}

// One header slot.
//   0 magic u32 | 4 version u32 | 8 block_size u32 | 12 flags u32 | 16 capacity u64 | 24 nonce u64 |
//   32 seq u64 | 40 trim u64 | 48 scan_start u64 | 56 max_unflushed u64 | 64 clean_end u64 |
//   72 reserved u32 (0) | 76 crc u32 (CRC32C of bytes 0-75)
struct header {
  uint32_t block_size = 0;
  uint32_t flags = 0;
  uint64_t capacity = 0;       // ring bytes
  uint64_t nonce = 0;          // random per formatted log; seeds every record header CRC
  uint64_t seq = 0;            // bumped by every header write; the valid slot with the larger seq wins
  uint64_t trim = 0;           // records before this offset are not replayed
  uint64_t scan_start = 0;     // start of the group that holds `trim`: recovery parses from here
  uint64_t max_unflushed = 0;  // most bytes past the durable end the writing incarnation may have written
  uint64_t clean_end = 0;      // with kCleanShutdown: the end of the log at close

  friend bool operator==(const header&, const header&) = default;
};

void encode_header(const header& h, char* out);  // writes kHeaderBytes
// nullopt unless magic, version and CRC are right.
std::optional<header> decode_header(const char* in);

// A record header.
//   0 magic u32 | 4 flags u32 | 8 offset u64 (logical offset of this record) | 16 length u32 (payload bytes)
//   | 20 payload_crc u32 | 24 reserved u32 (0) | 28 header_crc u32
// header_crc = CRC32C over the log's nonce (8 bytes LE) followed by bytes 0-27, so records of another
// log (a reformatted device) never validate.
struct record_header {
  uint32_t flags = 0;
  uint64_t offset = 0;
  uint32_t length = 0;
  uint32_t payload_crc = 0;
};

// CRC register state after the nonce bytes; pass to encode/decode.
uint32_t nonce_seed(uint64_t nonce);
void encode_record_header(const record_header& h, uint32_t seed, char* out);  // writes kRecordHeaderBytes
// nullopt unless magic, reserved and header CRC are right.
std::optional<record_header> decode_record_header(const char* in, uint32_t seed);

}  // namespace sluice::stream::wal::format
