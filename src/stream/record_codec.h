#pragma once
// How a record is written into the WAL: a fixed header then the payload.
//   magic u8 (0x53) | stream u64 | epoch u64 | base i64 | count u32 | max_timestamp i64 | payload_len u32 |
//   payload
// Little-endian. The WAL adds its own framing and CRC around it.
#include <array>
#include <string>
#include <string_view>

#include "stream/types.h"

namespace sluice::stream {

inline constexpr size_t record_header_bytes = 1 + 8 + 8 + 8 + 4 + 8 + 4;

// The header alone, for appending header and payload without joining them.
std::array<char, record_header_bytes> encode_wal_record_header(const record& r);
std::string encode_wal_record(const record& r);
result<record> decode_wal_record(std::string_view bytes);

}  // namespace sluice::stream
