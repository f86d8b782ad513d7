#pragma once
// Kafka record data: v2 record batches (magic 2) and legacy message sets (magic 0/1).
//
// v2 batch, 61-byte header then records, big-endian (DefaultRecordBatch.java):
//   0 BaseOffset i64 | 8 Length i32 (bytes after this field) | 12 PartitionLeaderEpoch i32 |
//   16 Magic i8 | 17 CRC u32 (CRC-32C of bytes 21..end) | 21 Attributes i16 | 23 LastOffsetDelta i32 |
//   27 BaseTimestamp i64 | 35 MaxTimestamp i64 | 43 ProducerId i64 | 51 ProducerEpoch i16 |
//   53 BaseSequence i32 | 57 RecordCount i32 | 61 records (one compressed blob when compressed)
// BaseOffset and PartitionLeaderEpoch are outside the CRC, so the broker patches them in place.
//
// Record: Length varint | Attributes i8 | TimestampDelta varlong | OffsetDelta varint |
//   Key (varint length, -1 null) | Value (same) | HeaderCount varint | headers (key, nullable value)
// with zigzag varints, unlike the unsigned varints of flexible message encoding.
//
// Legacy message (LegacyRecord.java): Offset i64 | MessageSize i32 | CRC u32 (CRC-32 IEEE of magic..end) |
//   Magic i8 | Attributes i8 (codec bits 0-2, v1 timestamp type bit 3) | Timestamp i64 (v1 only) |
//   Key (i32 length, -1 null) | Value (i32 length, -1 null)
//
// Errors (errc, mapped to wire codes by to_error_code()): CRC or framing damage -> corrupt_message
// (CORRUPT_MESSAGE); rule violations such as counts, offsets, sequences, control batches ->
// invalid_record (INVALID_RECORD); a batch above the limit -> message_too_large (MESSAGE_TOO_LARGE).
//
// Views returned here point into the caller's buffer. All functions are pure and thread-safe.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"
#include "kafka/protocol/errors.h"

namespace sluice::kafka::protocol {

enum class compression_codec : uint8_t { none = 0, gzip = 1, snappy = 2, lz4 = 3, zstd = 4 };

inline constexpr size_t batch_header_bytes = 61;
inline constexpr size_t batch_log_overhead = 12;  // BaseOffset + Length
inline constexpr int64_t no_timestamp = -1;
// Kafka's message.max.bytes / max.message.bytes default: 1 MiB + LOG_OVERHEAD.
inline constexpr size_t default_max_batch_bytes = 1048588;

// Attribute bits of a v2 batch.
inline constexpr int16_t attr_codec_mask = 0x07;
inline constexpr int16_t attr_log_append_time = 0x08;
inline constexpr int16_t attr_transactional = 0x10;
inline constexpr int16_t attr_control = 0x20;
inline constexpr int16_t attr_delete_horizon = 0x40;

struct batch_header {
  int64_t base_offset = 0;
  int32_t length = 0;  // bytes after the Length field: total size - 12
  int32_t partition_leader_epoch = -1;
  int8_t magic = 2;
  uint32_t crc = 0;
  int16_t attributes = 0;
  int32_t last_offset_delta = 0;
  int64_t base_timestamp = no_timestamp;
  int64_t max_timestamp = no_timestamp;
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
  int32_t base_sequence = -1;
  int32_t record_count = 0;

  // The codec id in bits 0-2 (values above 4 are invalid).
  uint8_t codec_id() const { return static_cast<uint8_t>(attributes & attr_codec_mask); }
  compression_codec codec() const { return static_cast<compression_codec>(codec_id()); }
  bool log_append_time() const { return attributes & attr_log_append_time; }
  bool is_transactional() const { return attributes & attr_transactional; }
  bool is_control() const { return attributes & attr_control; }
  bool has_producer_id() const { return producer_id >= 0; }
  size_t size_bytes() const { return batch_log_overhead + static_cast<size_t>(length); }
  // Wrapping arithmetic: headers are untrusted and may hold any values.
  int64_t last_offset() const {
    return static_cast<int64_t>(static_cast<uint64_t>(base_offset) +
                                static_cast<uint64_t>(int64_t{last_offset_delta}));
  }
  // Sequence of the last record (wraps at INT32_MAX to 0, as Kafka's DefaultRecordBatch.incrementSequence).
  int32_t last_sequence() const;
};

// A batch found in a buffer; `bytes` is the whole batch, header included.
struct batch_view {
  batch_header header;
  std::string_view bytes;
  size_t position = 0;  // where `bytes` starts in the parsed buffer
  std::string_view records() const {
    return bytes.size() > batch_header_bytes ? bytes.substr(batch_header_bytes) : std::string_view();
  }
};

// Decodes the 61-byte header (no validation beyond size).
result<batch_header> read_batch_header(std::string_view bytes);
// CRC-32C over attributes..end, as stored in the CRC field.
uint32_t compute_batch_crc(std::string_view batch);

struct batch_checks {
  size_t max_batch_bytes = default_max_batch_bytes;
  // Produce rules of ProduceRequest.validateRecords: v3+ needs exactly one magic-2 batch and zstd
  // needs v7+. -1 skips them (data not from a Produce request).
  int16_t produce_version = -1;
  // Client appends must have BaseOffset 0 (UnifiedLog.analyzeAndValidateRecords); and may not
  // write control batches (LogValidator.validateBatch).
  bool from_client = true;
  // Walk the records of uncompressed batches and check their framing against RecordCount.
  bool check_records = true;
};

// Parses and validates every v2 batch of `payload` (a Produce partition's records, or stored log
// data) in the order Kafka checks them: framing and magic (corrupt_message), BaseOffset 0 for
// clients (invalid_record), size limit (message_too_large), CRC-32C (corrupt_message), then
// LastOffsetDelta + 1 == RecordCount > 0, no control batches from clients, BaseSequence >= 0 when
// a producer id is set, a known codec, one magic for all batches (invalid_record), and record framing
// of uncompressed batches (invalid_record). An empty payload is invalid_record. Legacy (magic 0/1)
// data is rejected with invalid_record; convert it first with convert_legacy_to_v2().
result<std::vector<batch_view>> validate_batches(std::string_view payload, const batch_checks& checks = {});

// Magic byte of the first batch or message in `payload` (corrupt_message when too short to tell).
result<int8_t> peek_magic(std::string_view payload);

// In-place header updates on a validated batch held in a mutable buffer (`batch` starts at the
// batch and holds at least its header). BaseOffset and PartitionLeaderEpoch are outside the CRC.
result<void> assign_offsets(std::span<char> batch, int64_t base_offset, int32_t partition_leader_epoch);
// For LogAppendTime topics: sets the timestamp-type bit and MaxTimestamp, then recomputes the CRC
// (both are covered by it).
result<void> set_log_append_time(std::span<char> batch, int64_t timestamp_ms);

struct record_header_view {
  std::string_view key;
  std::optional<std::string_view> value;
  bool operator==(const record_header_view&) const = default;
};

struct record_view {
  int8_t attributes = 0;
  int64_t timestamp_delta = 0;
  int32_t offset_delta = 0;
  std::optional<std::string_view> key;
  std::optional<std::string_view> value;
  std::vector<record_header_view> headers;
  bool operator==(const record_view&) const = default;
};

// Decodes the records of an uncompressed batch (unsupported_compression for a compressed one).
// Structural damage is invalid_record, like Kafka's DefaultRecord.readFrom.
result<std::vector<record_view>> decode_records(const batch_view& batch);
// The timestamp Kafka reports for a record: MaxTimestamp for LogAppendTime batches, else
// BaseTimestamp + TimestampDelta.
int64_t record_timestamp(const batch_header& h, const record_view& r);

// Input of build_batch(): one record with absolute timestamp.
struct record_data {
  int64_t timestamp = no_timestamp;
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::vector<std::pair<std::string, std::optional<std::string>>> headers;
};

struct batch_options {
  int64_t base_offset = 0;
  int32_t partition_leader_epoch = -1;
  int16_t attributes = 0;  // codec bits must be 0: build_batch writes uncompressed records
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
  int32_t base_sequence = -1;
};

// An uncompressed v2 batch with offset deltas 0..n-1, BaseTimestamp = the first record's timestamp,
// MaxTimestamp = the largest, and a valid CRC.
std::string build_batch(const batch_options& options, std::span<const record_data> records);

// A message of a legacy message set.
struct legacy_message {
  int64_t offset = 0;
  int8_t magic = 0;
  int8_t attributes = 0;
  int64_t timestamp = no_timestamp;  // v1 only
  std::optional<std::string_view> key;
  std::optional<std::string_view> value;
  bool operator==(const legacy_message&) const = default;
};

// Parses and validates a magic 0/1 message set: sizes, magic, CRC-32 (corrupt_message). Messages
// above max_message_bytes are message_too_large. Compressed wrapper messages are returned as they
// are (their value is the compressed inner set).
result<std::vector<legacy_message>> parse_legacy_message_set(
    std::string_view payload, size_t max_message_bytes = default_max_batch_bytes);

// Up-converts a legacy message set to one uncompressed v2 batch (BaseOffset 0, offsets 0..n-1,
// CreateTime timestamps, -1 for v0 messages), as Kafka does on append. Gzip-compressed wrappers are
// inflated; snappy and lz4 wrappers are unsupported_compression. The inflated size is bounded by
// max_message_bytes * 16.
result<std::string> convert_legacy_to_v2(std::string_view payload,
                                         size_t max_message_bytes = default_max_batch_bytes);

// Down-converts v2 batches to a legacy message set of `magic` (0 or 1) for Fetch v0-3, with absolute
// offsets. Control batches are dropped and headers lost; compressed batches are
// unsupported_compression. A truncated trailing batch (fetch size cut) is dropped, as clients do.
result<std::string> convert_v2_to_legacy(std::string_view batches, int8_t magic);

uint32_t crc32c(std::string_view data);
uint32_t crc32_ieee(std::string_view data);

}  // namespace sluice::kafka::protocol
