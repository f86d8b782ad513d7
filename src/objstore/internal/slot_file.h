#pragma once
// A small file that is replaced durably in place: two slots, each a complete
// copy of the contents with a generation number and a checksum. A write goes
// to the slot that does not hold the newest valid copy and is made durable
// with one fdatasync; the old copy stays intact beside it, so a torn write
// (a crash mid-write) leaves the previous contents readable. The single-drive
// store keeps `.sluice.meta` in this container (docs/STORAGE_FORMAT.md): on
// this project's test VM a 4.6 KB replacement in place cost 0.15-0.17 ms
// against 0.78-0.80 ms for a temp file, its fdatasync, a rename and the
// folder's fsync (docs/BENCHMARKS.md).
//
// Layout (integers little-endian), slot i at offset i * capacity:
//   0  8 bytes  magic "SLSLOT" 0x00 0x01
//   8  u32      capacity: bytes per slot, header included, a multiple of 4096
//   12 u32      length L of the payload
//   16 u64      generation (the newest valid slot wins)
//   24 16 bytes XXH3-128 of bytes 0-23 and the payload
//   40 L bytes  payload
// A new file holds slot 0 only (its size is 40 + L); slot 1 is added by the
// first replacement in place. A payload that does not fit a slot is written
// as a new file (temp file, fdatasync, rename, folder fsync) with slots sized
// for it.
//
// Concurrency: writers of one file must be serialised by the caller; readers
// need no lock (a slot being written fails its checksum and the other slot is
// read; reading retries if both do).
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"

namespace sluice::objstore::detail {

inline constexpr size_t kSlotHeaderBytes = 40;
inline constexpr size_t kSlotAlign = 4096;

bool is_slot_file(std::string_view bytes);

struct slot_view {
  std::string_view payload;
  uint64_t generation = 0;
  int index = 0;          // 0 or 1
  uint32_t capacity = 0;  // bytes per slot
};
// The newest valid slot of a slot file's bytes; nullopt when none is valid
// (or the bytes are not a slot file).
std::optional<slot_view> newest_slot(std::string_view bytes);

// One slot's bytes (header and payload; no padding).
std::string encode_slot(std::string_view payload, uint64_t generation, uint32_t capacity);
// The capacity a new file gives a payload of this size.
uint32_t slot_capacity_for(size_t payload_size);
// The bytes of a new slot file holding `payload` (generation 1, slot 0 only).
std::string new_slot_file(std::string_view payload);

// The file's contents: the newest valid slot's payload of a slot file, the
// bytes as they are of any other file (the format before slot files).
// Errors: the file's read error (ENOENT ... as from fs::read_file);
// errc::corrupt when no slot passes its checks.
result<std::string> read_slot_file(const std::string& path);

// How write_slot_file wrote.
enum class slot_write { in_place, new_file };

// Replaces the file's contents with `payload`, durably: in place when the
// file is a slot file with room, else as a new file. `before` (optional)
// runs before anything becomes visible and must succeed (e.g. the flush of
// data the payload refers to). New files get `mode`.
result<slot_write> write_slot_file(const std::string& path, std::string_view payload, int mode = 0644,
                                   const std::function<result<void>()>& before = {});

}  // namespace sluice::objstore::detail
