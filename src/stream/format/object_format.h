#pragma once
// The format of stream data objects in the data bucket (docs/STREAM_FORMAT.md,
// format version 1).
//
// An object holds records of one or many streams, sorted by (stream, base
// offset), grouped in data blocks (one stream per block, about block_size
// bytes each, each ending with a CRC32C), followed by an index (one entry per
// data block, sorted, ending with its own CRC32C) and a fixed-size footer
// (index position/length, format version, magic). A reader fetches footer +
// index with one ranged GET from the end of the object (tail_guess), then only
// the blocks it needs (find_blocks, decode_block).
//
// Nothing here does I/O or keeps global state: every function may be called
// from any thread; one object_writer is used by one thread at a time.
// Readers never trust the bytes: every length, position and offset is checked
// before use, and a failed check is errc::corrupt (never a crash, never wrong
// records).
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "stream/types.h"

namespace sluice::stream::format {

inline constexpr uint32_t kFormatVersion = 1;

// One index entry: a data block of one stream.
struct block_entry {
  stream_id stream;
  offset start = 0;  // base of its first record
  offset end = 0;    // end() of its last record
  uint32_t record_count = 0;
  uint64_t position = 0;       // of the block in the object
  uint32_t size = 0;           // bytes of the block, header and CRC included
  int64_t max_timestamp = -1;  // largest max_timestamp of its records (-1 when none is known)

  friend bool operator==(const block_entry&, const block_entry&) = default;
};

// Per-stream summary of an object, [start, end) with the bytes its blocks take.
struct stream_range {
  stream_id stream;
  offset start = 0;
  offset end = 0;
  uint64_t bytes = 0;

  friend bool operator==(const stream_range&, const stream_range&) = default;
};

// Writes an object. Records must arrive in ascending (stream, base) order,
// not overlap within a stream (base >= end() of the stream's previous record;
// a gap, which compaction can produce, starts a new block), cover at least one offset, and have base >= 0; a violation fails
// that add() with errc::bad_argument and leaves the writer usable. A payload
// too large for one block (>= 4 GiB) fails with errc::record_too_large.
//
// A block is closed when it reaches block_size bytes or the stream changes,
// and handed to `sink` at once, so large objects can be sent as multipart
// parts while being built; finish() sends the last block, then index +
// footer. The sink sees the object's bytes in order, each call a new piece.
// When the sink fails, the writer keeps that error and returns it from every
// later add()/finish(): the object is incomplete and must be discarded.
//
// Copies share one writer (the implementation is reference counted).
class object_writer {
 public:
  using sink_fn = std::function<result<void>(std::string_view bytes)>;
  explicit object_writer(sink_fn sink, size_t block_size = 512 << 10);
  // Builds the object at the end of `out` in place (blocks are not copied
  // through a sink): for objects assembled in memory. `out` must outlive the
  // writer; reserve it beforehand to avoid reallocations.
  object_writer(std::string& out, size_t block_size);

  result<void> add(const record& r);
  // Flushes the open block, writes index and footer. add() and finish() fail
  // with errc::bad_argument after it. An object with no records is valid
  // (empty index).
  result<void> finish();

  // In-place mode: how many bytes at the front of `out` are final (what
  // `out` held before, then closed blocks; after finish(), all of it), and
  // dropping them from `out` once the caller has sent them on (the open
  // block, usually one record then, moves to the front). So an object can be
  // streamed out of a buffer of about one block instead of built whole.
  // drop_final() fails with errc::bad_argument in sink mode.
  size_t final_bytes() const;
  result<void> drop_final();

  uint64_t bytes_written() const;                 // so far, through the sink
  const std::vector<block_entry>& index() const;  // entries of the blocks closed so far
  std::vector<stream_range> ranges() const;       // valid after finish()

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

// Convenience: the whole object in memory.
result<std::string> build_object(const std::vector<record>& sorted, size_t block_size = 512 << 10);

// Bytes a reader should fetch from the end of an object of `object_size`
// bytes to get footer + index in one request in the common case (never more
// than object_size).
uint64_t tail_guess(uint64_t object_size);

// Parses footer + index from the last bytes of an object (`tail` = the
// object's final tail.size() bytes, at most object_size). When the index does
// not fit in `tail`, returns the number of tail bytes needed instead (fetch
// that and call again): exactly footer + index when the footer was in `tail`,
// otherwise a guess that covers at least the footer.
// Fails with errc::corrupt when the footer or index fails any check (magic,
// unknown version, lengths, CRC, order or layout of the entries), and with
// errc::bad_argument when tail is longer than object_size.
struct parsed_index {
  std::vector<block_entry> blocks;  // sorted by (stream, start), not overlapping per stream
  std::optional<uint64_t> need_tail_bytes;
};
result<parsed_index> parse_index(std::string_view tail, uint64_t object_size);

// The index entries of `blocks` that hold offsets of [from, to) of stream s,
// in order. `blocks` must be sorted as parse_index returns them (O(log n)).
std::vector<block_entry> find_blocks(const std::vector<block_entry>& blocks, stream_id s, offset from,
                                     offset to);

// Decodes one data block (exactly entry.size bytes), verifying its CRC and
// that it matches the entry (stream, offsets, record count, max timestamp).
// Fails with errc::corrupt otherwise. The records' payloads are slices of
// `block` (no copy): they keep its buffer alive.
result<std::vector<record>> decode_block(const shared_bytes& block, const block_entry& entry);
// The same for bytes the caller keeps: copies the block once.
inline result<std::vector<record>> decode_block(std::string_view block, const block_entry& entry) {
  return decode_block(shared_bytes(std::string(block)), entry);
}

}  // namespace sluice::stream::format
