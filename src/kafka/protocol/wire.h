#pragma once
// Kafka wire primitives: a bounds-checked reader over received bytes and an appending writer.
//
// Integers are big-endian. Flexible versions encode string/bytes/array lengths as an unsigned
// varint of N+1 (0 = null) and end every struct with a tagged-field section; record internals
// use zigzag varints instead (record_batch.h).
//
// The reader never throws and never reads out of bounds: the first failure is kept (sticky), every
// later read returns a zero value, and status() reports it with the byte position. The generated
// codecs read a whole message and check status() once. Views returned by the reader (records,
// read_raw) point into the input, which must outlive them.
//
// Neither class is thread-safe; each is used by one decoding or encoding call at a time.
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"
#include "kafka/protocol/errors.h"

namespace sluice::kafka::protocol {

// Kafka's 16-byte UUID (topic ids), big-endian as on the wire.
struct uuid {
  std::array<uint8_t, 16> bytes{};
  bool operator==(const uuid&) const = default;
  bool is_zero() const { return *this == uuid{}; }
};

// A tagged field the codec did not recognise: kept so that a decoded message re-encodes to the
// same bytes, and re-emitted by write() in tag order among the known ones.
struct tagged_field {
  uint32_t tag = 0;
  std::string data;
  bool operator==(const tagged_field&) const = default;
};
using tagged_fields = std::vector<tagged_field>;

// Protocol limit: strings carry an int16 length in non-flexible versions, and Kafka rejects
// longer compact strings too (Readable.readString).
inline constexpr size_t max_string_length = 0x7fff;

class reader {
 public:
  explicit reader(std::string_view data) : data_(data) {}

  bool ok() const { return !error_; }
  // ok(), or the first failure with the offset where it happened.
  result<void> status() const;
  // Records a failure unless one is already recorded.
  void fail(errc code, std::string_view what);
  // Adopts the failure of a nested reader (tagged field payloads).
  void fail_from(const reader& nested);

  size_t position() const { return pos_; }
  size_t remaining() const { return data_.size() - pos_; }
  std::string_view rest() const { return data_.substr(pos_); }

  int8_t read_int8();
  int16_t read_int16();
  int32_t read_int32();
  int64_t read_int64();
  uint16_t read_uint16();
  uint32_t read_uint32();
  double read_float64();
  bool read_bool();  // any non-zero byte is true, as in Kafka
  uuid read_uuid();
  uint32_t read_uvarint();   // at most 5 bytes
  uint64_t read_uvarlong();  // at most 10 bytes
  int32_t read_varint();     // zigzag
  int64_t read_varlong();    // zigzag
  // n bytes, or an empty view (and a failure) when fewer remain.
  std::string_view read_raw(size_t n);
  void skip(size_t n) { (void)read_raw(n); }

  // Length prefixes: -1 means null. A length that exceeds what remains fails here, before anything
  // is allocated; arrays also need min_element_size bytes per element.
  int32_t read_string_length(bool flexible);
  int32_t read_bytes_length(bool flexible);
  int32_t read_array_length(bool flexible, size_t min_element_size);

  // Field readers for the generated codecs. `nullable`: null is legal at this version; a null
  // where it is not fails with unexpected_null. `field` names the field in error messages.
  void read_string(std::string& out, bool flexible, const char* field);
  void read_string(std::optional<std::string>& out, bool flexible, bool nullable, const char* field);
  void read_bytes(std::string& out, bool flexible, const char* field);
  void read_bytes(std::optional<std::string>& out, bool flexible, bool nullable, const char* field);
  void read_records(std::string_view& out, bool flexible, const char* field);
  void read_records(std::optional<std::string_view>& out, bool flexible, bool nullable, const char* field);

  // A tagged-field section: uvarint count, then per field uvarint tag, uvarint size, payload.
  // `known(tag, payload_reader)` returns true when it decoded the tag; other tags go to `unknown`.
  template <class F>
  void read_tagged_fields(tagged_fields& unknown, F&& known);

 private:
  bool need(size_t n, const char* what);
  template <class T>
  T read_be();

  std::string_view data_;
  size_t pos_ = 0;
  std::optional<error> error_;
};

class writer {
 public:
  writer() = default;
  explicit writer(std::string&& buffer) : buf_(std::move(buffer)) {}

  // False after a value could not be encoded (a string above the int16 length limit); the bytes
  // are then unusable. check_writable() on a message reports the same problem beforehand.
  bool ok() const { return ok_; }
  size_t size() const { return buf_.size(); }
  const std::string& buffer() const { return buf_; }
  std::string take() { return std::move(buf_); }

  void write_int8(int8_t v) { buf_.push_back(static_cast<char>(v)); }
  void write_int16(int16_t v) { write_be(static_cast<uint16_t>(v)); }
  void write_int32(int32_t v) { write_be(static_cast<uint32_t>(v)); }
  void write_int64(int64_t v) { write_be(static_cast<uint64_t>(v)); }
  void write_uint16(uint16_t v) { write_be(v); }
  void write_uint32(uint32_t v) { write_be(v); }
  void write_float64(double v);
  void write_bool(bool v) { buf_.push_back(v ? 1 : 0); }
  void write_uuid(const uuid& v) {
    buf_.append(reinterpret_cast<const char*>(v.bytes.data()), v.bytes.size());
  }
  void write_uvarint(uint32_t v) { write_uvarlong(v); }
  void write_uvarlong(uint64_t v);
  void write_varint(int32_t v) {
    write_uvarlong(static_cast<uint32_t>((static_cast<uint32_t>(v) << 1) ^ (v >> 31)));
  }
  void write_varlong(int64_t v) {
    write_uvarlong((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));
  }
  void write_raw(std::string_view bytes) { buf_.append(bytes); }

  void write_string(std::string_view s, bool flexible);
  void write_string(const std::string& s, bool flexible) { write_string(std::string_view(s), flexible); }
  void write_string(const char* s, bool flexible) { write_string(std::string_view(s), flexible); }
  void write_string(const std::optional<std::string>& s, bool flexible);
  void write_bytes(std::string_view b, bool flexible);
  void write_bytes(const std::string& b, bool flexible) { write_bytes(std::string_view(b), flexible); }
  void write_bytes(const std::optional<std::string>& b, bool flexible);
  void write_records(std::string_view b, bool flexible) { write_bytes(b, flexible); }
  void write_records(const std::optional<std::string_view>& b, bool flexible);
  void write_null(bool flexible, bool int16_length);  // null string (int16) or null bytes/array (int32)
  void write_array_length(size_t n, bool flexible);

  // Overwrites 4 bytes at `pos` (size prefixes written before their payload).
  void patch_int32(size_t pos, int32_t v);

 private:
  template <class T>
  void write_be(T v) {
    for (int shift = (sizeof(T) - 1) * 8; shift >= 0; shift -= 8)
      buf_.push_back(static_cast<char>(v >> shift));
  }

  std::string buf_;
  bool ok_ = true;
};

// Writes a tagged-field section: known fields in ascending tag order through field(), the kept
// unknown ones merged in by tag. Usage: construct with the number of known fields to emit,
// call field() for each, then finish().
class tag_section_writer {
 public:
  tag_section_writer(writer& w, const tagged_fields& unknown, size_t known_count);
  template <class F>
  void field(uint32_t tag, F&& write_payload) {
    flush_unknown_below(tag);
    writer payload;
    write_payload(payload);
    w_.write_uvarint(tag);
    w_.write_uvarint(static_cast<uint32_t>(payload.size()));
    w_.write_raw(payload.buffer());
  }
  void finish() { flush_unknown_below(UINT32_MAX, true); }

 private:
  void flush_unknown_below(uint32_t tag, bool all = false);

  writer& w_;
  const tagged_fields& unknown_;
  size_t next_ = 0;
};

template <class F>
void reader::read_tagged_fields(tagged_fields& unknown, F&& known) {
  const uint32_t count = read_uvarint();
  for (uint32_t i = 0; i < count && ok(); ++i) {
    const uint32_t tag = read_uvarint();
    const uint32_t size = read_uvarint();
    const std::string_view payload = read_raw(size);
    if (!ok()) return;
    reader nested(payload);
    if (!known(tag, nested)) {
      unknown.push_back({tag, std::string(payload)});
    } else if (!nested.ok()) {
      fail_from(nested);
    }
  }
}

// Whole-message helpers for the generated types (T::read / T::write).
// Decoded views (records) point into `bytes`. Trailing bytes after the message are ignored, as
// Kafka does.
template <class T>
result<T> decode(std::string_view bytes, int16_t version) {
  reader r(bytes);
  T msg;
  msg.read(r, version);
  SLUICE_TRY(r.status());
  return msg;
}

template <class T>
std::string encode(const T& msg, int16_t version) {
  writer w;
  msg.write(w, version);
  return w.take();
}

}  // namespace sluice::kafka::protocol
