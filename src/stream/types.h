#pragma once
// Vocabulary of the stream engine: ids, offsets and the record unit.
//
// A stream is an append-only sequence of records addressed by offset. One
// record is one Kafka record batch, kept verbatim; it covers `count` offsets
// [base, base + count). Offsets are dense: the next record of a stream starts
// where the previous one ended.
#include <cstdint>
#include <string>
#include <string_view>

#include "base/errc.h"
#include "base/result.h"
#include "base/shared_bytes.h"
#include "base/strong_type.h"

namespace sluice::stream {

using stream_id = strong<uint64_t, struct stream_id_tag>;
using object_id = strong<uint64_t, struct object_id_tag>;
using node_id = strong<uint32_t, struct node_id_tag>;
// Ownership epoch of a stream: bumped by every open; appends and commits from
// an older epoch are fenced.
using epoch = strong<uint64_t, struct epoch_tag>;
// A position in a stream (Kafka offset).
using offset = int64_t;

enum class errc {
  stream_not_found = 1,
  stream_fenced,    // the caller's epoch is older than the stream's
  stream_not_open,  // append/read on a closed stream
  offset_out_of_range,
  object_not_found,
  corrupt,     // a CRC, magic or length check failed: the bytes are not served
  wal_full,    // the WAL has no free space until uploads trim it (back-pressure, retryable)
  cache_full,  // the log cache is full (back-pressure, retryable)
  record_too_large,
  io_error,
  storage_error,  // the object storage failed a request (after retries)
  meta_error,     // the metadata store failed
  closed,         // the engine or component is shutting down
  bad_argument,
  timeout,
};
const std::error_category& category();
inline std::error_code make_error_code(errc e) {
  return {static_cast<int>(e), category()};
}

// One record of a stream as stored everywhere (WAL, log cache, objects).
struct record {
  stream_id stream;
  stream::epoch epoch;
  offset base = 0;
  uint32_t count = 0;  // offsets covered: [base, base + count)
  int64_t max_timestamp =
      -1;               // ms since epoch, for time-based retention and ListOffsets by time (-1 unknown)
  shared_bytes payload;  // the Kafka record batch bytes, verbatim (may share a buffer read from an object)

  offset end() const { return base + count; }
};

}  // namespace sluice::stream

SLUICE_ERRC_ENUM(sluice::stream::errc)
