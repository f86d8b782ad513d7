#include "kafka/protocol/record_batch.h"

#include <isa-l/crc.h>
#include <isa-l/igzip_lib.h>

#include <algorithm>
#include <climits>
#include <memory>
#include <string>

#include "kafka/protocol/wire.h"

namespace sluice::kafka::protocol {

namespace {

// Field offsets of the v2 batch header.
constexpr size_t off_length = 8;
constexpr size_t off_leader_epoch = 12;
constexpr size_t off_magic = 16;
constexpr size_t off_crc = 17;
constexpr size_t off_attributes = 21;
constexpr size_t off_max_timestamp = 35;

// Legacy message layout (LegacyRecord.java).
constexpr size_t legacy_log_overhead = 12;        // Offset i64 + MessageSize i32
constexpr size_t legacy_crc_offset = 12;          // within the entry
constexpr size_t legacy_magic_offset = 16;        // within the entry
constexpr size_t legacy_record_overhead_v0 = 14;  // crc + magic + attributes + key len + value len
constexpr size_t legacy_record_overhead_v1 = 22;  // + timestamp
constexpr int8_t legacy_attr_codec_mask = 0x07;
constexpr int8_t legacy_attr_log_append_time = 0x08;
// Bound on inflated legacy data relative to the message limit (decompression bombs).
constexpr size_t legacy_inflate_ratio = 16;

void put_be(std::span<char> out, size_t pos, uint64_t v, size_t bytes) {
  for (size_t i = 0; i < bytes; ++i) out[pos + i] = static_cast<char>(v >> (8 * (bytes - 1 - i)));
}

batch_header parse_header(reader& r) {
  batch_header h;
  h.base_offset = r.read_int64();
  h.length = r.read_int32();
  h.partition_leader_epoch = r.read_int32();
  h.magic = r.read_int8();
  h.crc = r.read_uint32();
  h.attributes = r.read_int16();
  h.last_offset_delta = r.read_int32();
  h.base_timestamp = r.read_int64();
  h.max_timestamp = r.read_int64();
  h.producer_id = r.read_int64();
  h.producer_epoch = r.read_int16();
  h.base_sequence = r.read_int32();
  h.record_count = r.read_int32();
  return h;
}

// Reads one record body; r is positioned after the record's Length varint and bounded to it.
void read_record(reader& r, record_view& rec) {
  rec.attributes = r.read_int8();
  rec.timestamp_delta = r.read_varlong();
  rec.offset_delta = r.read_varint();
  auto nullable_bytes = [&r](std::optional<std::string_view>& out) {
    const int32_t n = r.read_varint();
    if (!r.ok()) return;
    if (n < -1) return r.fail(errc::invalid_record, "negative record field length");
    if (n == -1) return out.reset();
    out = r.read_raw(static_cast<size_t>(n));
  };
  nullable_bytes(rec.key);
  nullable_bytes(rec.value);
  const int32_t headers = r.read_varint();
  if (!r.ok()) return;
  // Each header takes at least two bytes (key length and value length).
  if (headers < 0 || static_cast<size_t>(headers) > r.remaining() / 2) {
    return r.fail(errc::invalid_record, "invalid number of record headers");
  }
  rec.headers.resize(static_cast<size_t>(headers));
  for (auto& h : rec.headers) {
    const int32_t klen = r.read_varint();
    if (!r.ok()) return;
    if (klen < 0) return r.fail(errc::invalid_record, "negative header key length");
    h.key = r.read_raw(static_cast<size_t>(klen));
    nullable_bytes(h.value);
    if (!r.ok()) return;
  }
}

// Walks `count` records in `area`. With `out`, decodes them too. Every failure is invalid_record.
result<void> walk_records(std::string_view area, int32_t count, std::vector<record_view>* out) {
  reader r(area);
  if (count < 0) return fail(errc::invalid_record, "negative record count");
  if (out) out->reserve(std::min<size_t>(static_cast<size_t>(count), area.size() / 7 + 1));
  for (int32_t i = 0; i < count; ++i) {
    const int32_t len = r.read_varint();
    if (!r.ok() || len < 0 || static_cast<size_t>(len) > r.remaining()) {
      return fail(errc::invalid_record, "record " + std::to_string(i) + " of " + std::to_string(count) +
                                            " has an invalid size or is missing");
    }
    reader body(r.read_raw(static_cast<size_t>(len)));
    record_view rec;
    read_record(body, rec);
    if (!body.ok()) {
      return fail(errc::invalid_record,
                  "record " + std::to_string(i) + ": " + body.status().error().message());
    }
    if (body.remaining() != 0) {
      return fail(errc::invalid_record, "record " + std::to_string(i) + " is shorter than its size field");
    }
    if (out) out->push_back(std::move(rec));
  }
  if (r.remaining() != 0) return fail(errc::invalid_record, "bytes left after the last record of the batch");
  return sluice::ok();
}

result<std::string> gunzip(std::string_view in, size_t max_out) {
  auto state = std::make_unique<inflate_state>();
  isal_inflate_init(state.get());
  state->crc_flag = ISAL_GZIP;
  state->next_in = reinterpret_cast<uint8_t*>(const_cast<char*>(in.data()));
  state->avail_in = static_cast<uint32_t>(in.size());
  std::string out(std::min<size_t>(std::max<size_t>(in.size() * 4, 4096), max_out), '\0');
  size_t produced = 0;
  for (;;) {
    state->next_out = reinterpret_cast<uint8_t*>(out.data() + produced);
    state->avail_out = static_cast<uint32_t>(out.size() - produced);
    const int rc = isal_inflate(state.get());
    produced = out.size() - state->avail_out;
    if (rc < 0)
      return fail(errc::corrupt_message, "invalid gzip data (isal_inflate " + std::to_string(rc) + ")");
    if (state->block_state == ISAL_BLOCK_FINISH) break;
    if (state->avail_out == 0) {
      if (out.size() >= max_out) return fail(errc::message_too_large, "inflated message set above the limit");
      out.resize(std::min(out.size() * 2, max_out));
      continue;
    }
    if (state->avail_in == 0) return fail(errc::corrupt_message, "truncated gzip data");
  }
  out.resize(produced);
  return out;
}

// Appends one legacy message (offset + size + body) to `out`.
void append_legacy(std::string& out, int8_t magic, int64_t offset, int8_t attributes, int64_t timestamp,
                   const std::optional<std::string_view>& key, const std::optional<std::string_view>& value) {
  writer body;
  body.write_int8(magic);
  body.write_int8(attributes);
  if (magic >= 1) body.write_int64(timestamp);
  for (const auto* f : {&key, &value}) {
    if (*f) {
      body.write_int32(static_cast<int32_t>((*f)->size()));
      body.write_raw(**f);
    } else {
      body.write_int32(-1);
    }
  }
  writer w(std::move(out));
  w.write_int64(offset);
  w.write_int32(static_cast<int32_t>(4 + body.size()));
  w.write_uint32(crc32_ieee(body.buffer()));
  w.write_raw(body.buffer());
  out = w.take();
}

}  // namespace

uint32_t crc32c(std::string_view data) {
  uint32_t crc = ~0u;
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  size_t n = data.size();
  while (n > 0) {  // crc32_iscsi takes an int length
    const int k = static_cast<int>(std::min<size_t>(n, INT_MAX));
    crc = crc32_iscsi(const_cast<unsigned char*>(p), k, crc);
    p += k;
    n -= static_cast<size_t>(k);
  }
  return ~crc;
}

uint32_t crc32_ieee(std::string_view data) {
  return crc32_gzip_refl(0, reinterpret_cast<const unsigned char*>(data.data()), data.size());
}

int32_t batch_header::last_sequence() const {
  if (base_sequence < 0) return base_sequence;
  const int64_t last = static_cast<int64_t>(base_sequence) + last_offset_delta;
  return static_cast<int32_t>(last > INT32_MAX ? last - INT32_MAX - 1 : last);
}

result<batch_header> read_batch_header(std::string_view bytes) {
  if (bytes.size() < batch_header_bytes)
    return fail(errc::corrupt_message, "record batch shorter than its header");
  reader r(bytes);
  batch_header h = parse_header(r);
  SLUICE_TRY(r.status());
  return h;
}

uint32_t compute_batch_crc(std::string_view batch) {
  return crc32c(batch.size() > off_attributes ? batch.substr(off_attributes) : std::string_view());
}

result<int8_t> peek_magic(std::string_view payload) {
  if (payload.size() <= off_magic)
    return fail(errc::corrupt_message, "record data too short to hold a magic byte");
  return static_cast<int8_t>(payload[off_magic]);
}

result<std::vector<batch_view>> validate_batches(std::string_view payload, const batch_checks& checks) {
  std::vector<batch_view> out;
  if (payload.empty()) return fail(errc::invalid_record, "no record batch");
  size_t pos = 0;
  while (pos < payload.size()) {
    const std::string_view rest = payload.substr(pos);
    if (rest.size() < batch_log_overhead + 5) {
      return fail(errc::corrupt_message, "truncated record batch at byte " + std::to_string(pos));
    }
    reader r(rest);
    (void)r.read_int64();
    const int32_t length = r.read_int32();
    // LegacyRecord.RECORD_OVERHEAD_V0 is the smallest anything can be (ByteBufferLogInputStream).
    if (length < static_cast<int32_t>(legacy_record_overhead_v0)) {
      return fail(errc::corrupt_message,
                  "record batch size " + std::to_string(length) + " below the minimum");
    }
    const int8_t magic = static_cast<int8_t>(rest[off_magic]);
    if (magic < 0 || magic > 2) return fail(errc::corrupt_message, "invalid magic " + std::to_string(magic));
    if (magic != 2) {
      return fail(errc::invalid_record,
                  "legacy message set (magic " + std::to_string(magic) + "); convert it first");
    }
    const size_t size = batch_log_overhead + static_cast<size_t>(length);
    if (size > rest.size()) {
      return fail(errc::corrupt_message, "record batch of " + std::to_string(size) + " bytes with only " +
                                             std::to_string(rest.size()) + " left");
    }
    if (size < batch_header_bytes) {
      return fail(errc::corrupt_message,
                  "record batch size " + std::to_string(size) + " below the 61-byte header");
    }
    batch_view b;
    b.bytes = rest.substr(0, size);
    b.position = pos;
    SLUICE_TRY(batch_header header, read_batch_header(b.bytes));
    b.header = header;
    const batch_header& h = b.header;
    if (checks.from_client && h.base_offset != 0) {
      return fail(errc::invalid_record, "BaseOffset " + std::to_string(h.base_offset) + " is not 0");
    }
    if (size > checks.max_batch_bytes) {
      return fail(errc::message_too_large, "record batch of " + std::to_string(size) +
                                               " bytes above the limit of " +
                                               std::to_string(checks.max_batch_bytes));
    }
    const uint32_t crc = compute_batch_crc(b.bytes);
    if (crc != h.crc) return fail(errc::corrupt_message, "record batch CRC mismatch");
    if (h.record_count <= 0 || static_cast<int64_t>(h.last_offset_delta) + 1 != h.record_count) {
      return fail(errc::invalid_record, "RecordCount " + std::to_string(h.record_count) +
                                            " with LastOffsetDelta " + std::to_string(h.last_offset_delta));
    }
    if (checks.from_client && h.is_control())
      return fail(errc::invalid_record, "clients may not write control batches");
    if (h.has_producer_id() && h.base_sequence < 0) {
      return fail(errc::invalid_record,
                  "producer id set with BaseSequence " + std::to_string(h.base_sequence));
    }
    if (h.codec_id() > static_cast<uint8_t>(compression_codec::zstd)) {
      return fail(errc::unsupported_compression, "unknown compression codec " + std::to_string(h.codec_id()));
    }
    if (checks.produce_version >= 0 && checks.produce_version < 7 && h.codec() == compression_codec::zstd) {
      return fail(errc::unsupported_compression, "zstd needs Produce v7+");
    }
    if (checks.check_records && h.codec() == compression_codec::none) {
      SLUICE_TRY(walk_records(b.records(), h.record_count, nullptr));
    }
    out.push_back(b);
    pos += size;
  }
  if (checks.produce_version >= 3 && out.size() != 1) {
    return fail(errc::invalid_record, "Produce v3+ carries exactly one record batch per partition");
  }
  return out;
}

result<void> assign_offsets(std::span<char> batch, int64_t base_offset, int32_t partition_leader_epoch) {
  if (batch.size() < batch_header_bytes)
    return fail(errc::corrupt_message, "record batch shorter than its header");
  put_be(batch, 0, static_cast<uint64_t>(base_offset), 8);
  put_be(batch, off_leader_epoch, static_cast<uint32_t>(partition_leader_epoch), 4);
  return sluice::ok();
}

result<void> set_log_append_time(std::span<char> batch, int64_t timestamp_ms) {
  if (batch.size() < batch_header_bytes)
    return fail(errc::corrupt_message, "record batch shorter than its header");
  reader r(std::string_view(batch.data(), batch.size()));
  r.skip(off_length);
  const int32_t length = r.read_int32();
  if (length < 0 || batch_log_overhead + static_cast<size_t>(length) > batch.size()) {
    return fail(errc::corrupt_message, "record batch Length beyond the buffer");
  }
  const size_t size = batch_log_overhead + static_cast<size_t>(length);
  r.skip(off_attributes - off_leader_epoch);
  const auto attributes = static_cast<uint16_t>(r.read_int16() | attr_log_append_time);
  put_be(batch, off_attributes, attributes, 2);
  put_be(batch, off_max_timestamp, static_cast<uint64_t>(timestamp_ms), 8);
  put_be(batch, off_crc, compute_batch_crc(std::string_view(batch.data(), size)), 4);
  return sluice::ok();
}

result<std::vector<record_view>> decode_records(const batch_view& batch) {
  if (batch.header.codec() != compression_codec::none) {
    return fail(errc::unsupported_compression, "records of a compressed batch");
  }
  std::vector<record_view> out;
  SLUICE_TRY(walk_records(batch.records(), batch.header.record_count, &out));
  return out;
}

int64_t record_timestamp(const batch_header& h, const record_view& r) {
  if (h.log_append_time()) return h.max_timestamp;
  return static_cast<int64_t>(static_cast<uint64_t>(h.base_timestamp) +
                              static_cast<uint64_t>(r.timestamp_delta));
}

std::string build_batch(const batch_options& options, std::span<const record_data> records) {
  const int64_t base_ts = records.empty() ? no_timestamp : records.front().timestamp;
  int64_t max_ts = no_timestamp;
  writer body;
  for (size_t i = 0; i < records.size(); ++i) {
    const record_data& rd = records[i];
    max_ts = std::max(max_ts, rd.timestamp);
    writer rec;
    rec.write_int8(0);
    rec.write_varlong(
        static_cast<int64_t>(static_cast<uint64_t>(rd.timestamp) - static_cast<uint64_t>(base_ts)));
    rec.write_varint(static_cast<int32_t>(i));
    for (const auto* f : {&rd.key, &rd.value}) {
      if (*f) {
        rec.write_varint(static_cast<int32_t>((*f)->size()));
        rec.write_raw(**f);
      } else {
        rec.write_varint(-1);
      }
    }
    rec.write_varint(static_cast<int32_t>(rd.headers.size()));
    for (const auto& [k, v] : rd.headers) {
      rec.write_varint(static_cast<int32_t>(k.size()));
      rec.write_raw(k);
      if (v) {
        rec.write_varint(static_cast<int32_t>(v->size()));
        rec.write_raw(*v);
      } else {
        rec.write_varint(-1);
      }
    }
    body.write_varint(static_cast<int32_t>(rec.size()));
    body.write_raw(rec.buffer());
  }
  writer w;
  w.write_int64(options.base_offset);
  w.write_int32(static_cast<int32_t>(batch_header_bytes - batch_log_overhead + body.size()));
  w.write_int32(options.partition_leader_epoch);
  w.write_int8(2);
  w.write_uint32(0);  // CRC, filled in below
  w.write_int16(static_cast<int16_t>(options.attributes & ~attr_codec_mask));
  w.write_int32(static_cast<int32_t>(records.size()) - 1);
  w.write_int64(base_ts);
  w.write_int64(max_ts);
  w.write_int64(options.producer_id);
  w.write_int16(options.producer_epoch);
  w.write_int32(options.base_sequence);
  w.write_int32(static_cast<int32_t>(records.size()));
  w.write_raw(body.buffer());
  std::string out = w.take();
  put_be(out, off_crc, compute_batch_crc(out), 4);
  return out;
}

result<std::vector<legacy_message>> parse_legacy_message_set(std::string_view payload,
                                                             size_t max_message_bytes) {
  std::vector<legacy_message> out;
  if (payload.empty()) return fail(errc::invalid_record, "empty message set");
  size_t pos = 0;
  while (pos < payload.size()) {
    const std::string_view rest = payload.substr(pos);
    if (rest.size() < legacy_log_overhead + legacy_record_overhead_v0) {
      return fail(errc::corrupt_message, "truncated message at byte " + std::to_string(pos));
    }
    reader r(rest);
    legacy_message m;
    m.offset = r.read_int64();
    const int32_t size = r.read_int32();
    if (size < static_cast<int32_t>(legacy_record_overhead_v0)) {
      return fail(errc::corrupt_message, "message size " + std::to_string(size) + " below the minimum");
    }
    if (static_cast<size_t>(size) > rest.size() - legacy_log_overhead) {
      return fail(errc::corrupt_message, "message of " + std::to_string(size) + " bytes is truncated");
    }
    if (legacy_log_overhead + static_cast<size_t>(size) > max_message_bytes) {
      return fail(errc::message_too_large, "message of " + std::to_string(size) + " bytes above the limit");
    }
    const std::string_view entry = rest.substr(0, legacy_log_overhead + static_cast<size_t>(size));
    reader body(entry.substr(legacy_crc_offset));
    const uint32_t crc = body.read_uint32();
    m.magic = body.read_int8();
    if (m.magic != 0 && m.magic != 1)
      return fail(errc::corrupt_message, "invalid magic " + std::to_string(m.magic));
    if (m.magic == 1 && static_cast<size_t>(size) < legacy_record_overhead_v1) {
      return fail(errc::corrupt_message, "v1 message size below the minimum");
    }
    if (crc32_ieee(entry.substr(legacy_magic_offset)) != crc)
      return fail(errc::corrupt_message, "message CRC mismatch");
    m.attributes = body.read_int8();
    if (m.magic == 1) m.timestamp = body.read_int64();
    for (auto* f : {&m.key, &m.value}) {
      const int32_t n = body.read_int32();
      if (!body.ok() || n < -1 || (n >= 0 && static_cast<size_t>(n) > body.remaining())) {
        return fail(errc::corrupt_message, "message key/value length out of bounds");
      }
      if (n >= 0) *f = body.read_raw(static_cast<size_t>(n));
    }
    if (body.remaining() != 0) return fail(errc::corrupt_message, "message size does not match its contents");
    out.push_back(m);
    pos += entry.size();
  }
  return out;
}

result<std::string> convert_legacy_to_v2(std::string_view payload, size_t max_message_bytes) {
  SLUICE_TRY(auto outer, parse_legacy_message_set(payload, max_message_bytes));
  std::vector<record_data> records;
  std::vector<std::string> inflated;  // keeps inner message sets alive while their views are used
  for (const legacy_message& m : outer) {
    const int codec = m.attributes & legacy_attr_codec_mask;
    if (codec == 0) {
      record_data rd;
      rd.timestamp = m.magic >= 1 ? m.timestamp : no_timestamp;
      if (m.key) rd.key.emplace(*m.key);
      if (m.value) rd.value.emplace(*m.value);
      records.push_back(std::move(rd));
      continue;
    }
    if (codec != static_cast<int>(compression_codec::gzip)) {
      return fail(errc::unsupported_compression, "legacy message set compressed with codec " +
                                                     std::to_string(codec) + "; only gzip is supported");
    }
    if (!m.value) return fail(errc::corrupt_message, "compressed wrapper message without a value");
    SLUICE_TRY(auto inner_bytes, gunzip(*m.value, max_message_bytes * legacy_inflate_ratio));
    inflated.push_back(std::move(inner_bytes));
    SLUICE_TRY(auto inner,
               parse_legacy_message_set(inflated.back(), max_message_bytes * legacy_inflate_ratio));
    const bool wrapper_log_append = m.magic >= 1 && (m.attributes & legacy_attr_log_append_time);
    for (const legacy_message& im : inner) {
      if (im.attributes & legacy_attr_codec_mask)
        return fail(errc::corrupt_message, "nested compressed message");
      record_data rd;
      rd.timestamp = im.magic >= 1 ? (wrapper_log_append ? m.timestamp : im.timestamp) : no_timestamp;
      if (im.key) rd.key.emplace(*im.key);
      if (im.value) rd.value.emplace(*im.value);
      records.push_back(std::move(rd));
    }
  }
  if (records.empty()) return fail(errc::invalid_record, "message set without messages");
  if (records.size() > static_cast<size_t>(INT32_MAX)) return fail(errc::invalid_record, "too many messages");
  return build_batch(batch_options{}, records);
}

result<std::string> convert_v2_to_legacy(std::string_view batches, int8_t magic) {
  if (magic != 0 && magic != 1)
    return fail(errc::unsupported_for_message_format, "legacy magic must be 0 or 1");
  std::string out;
  size_t pos = 0;
  while (batches.size() - pos >= batch_header_bytes) {
    SLUICE_TRY(batch_header h, read_batch_header(batches.substr(pos)));
    if (h.magic != 2 || h.length < 0 || h.size_bytes() < batch_header_bytes) {
      return fail(errc::corrupt_message, "not a v2 record batch");
    }
    if (h.size_bytes() > batches.size() - pos) break;  // partial trailing batch
    batch_view b{h, batches.substr(pos, h.size_bytes()), pos};
    pos += h.size_bytes();
    if (h.is_control()) continue;
    if (compute_batch_crc(b.bytes) != h.crc) return fail(errc::corrupt_message, "record batch CRC mismatch");
    SLUICE_TRY(auto records, decode_records(b));
    const int8_t attributes = magic >= 1 && h.log_append_time() ? legacy_attr_log_append_time : 0;
    for (const record_view& r : records) {
      const auto offset =
          static_cast<int64_t>(static_cast<uint64_t>(h.base_offset) + static_cast<uint64_t>(r.offset_delta));
      append_legacy(out, magic, offset, attributes, record_timestamp(h, r), r.key, r.value);
    }
  }
  return out;
}

}  // namespace sluice::kafka::protocol
