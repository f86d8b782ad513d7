#include "kafka/protocol/wire.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <string>

namespace sluice::kafka::protocol {

result<void> reader::status() const {
  if (error_) return sluice::fail(*error_);
  return sluice::ok();
}

void reader::fail(errc code, std::string_view what) {
  if (error_) return;
  error_.emplace(code, std::string(what) + " at byte " + std::to_string(pos_));
  pos_ = data_.size();  // nothing more is read after a failure
}

void reader::fail_from(const reader& nested) {
  if (error_ || !nested.error_) return;
  error_ = nested.error_;
  pos_ = data_.size();
}

bool reader::need(size_t n, const char* what) {
  if (error_) return false;
  if (remaining() < n) {
    fail(errc::truncated, what);
    return false;
  }
  return true;
}

template <class T>
T reader::read_be() {
  if (!need(sizeof(T), "integer")) return 0;
  T v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) v = static_cast<T>(v << 8) | static_cast<uint8_t>(data_[pos_ + i]);
  pos_ += sizeof(T);
  return v;
}

int8_t reader::read_int8() {
  return static_cast<int8_t>(read_be<uint8_t>());
}
int16_t reader::read_int16() {
  return static_cast<int16_t>(read_be<uint16_t>());
}
int32_t reader::read_int32() {
  return static_cast<int32_t>(read_be<uint32_t>());
}
int64_t reader::read_int64() {
  return static_cast<int64_t>(read_be<uint64_t>());
}
uint16_t reader::read_uint16() {
  return read_be<uint16_t>();
}
uint32_t reader::read_uint32() {
  return read_be<uint32_t>();
}
double reader::read_float64() {
  return std::bit_cast<double>(read_be<uint64_t>());
}
bool reader::read_bool() {
  return read_be<uint8_t>() != 0;
}

uuid reader::read_uuid() {
  uuid u;
  if (!need(u.bytes.size(), "uuid")) return u;
  std::memcpy(u.bytes.data(), data_.data() + pos_, u.bytes.size());
  pos_ += u.bytes.size();
  return u;
}

uint64_t reader::read_uvarlong() {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (!need(1, "varint")) return 0;
    const auto b = static_cast<uint8_t>(data_[pos_++]);
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) return v;
  }
  fail(errc::invalid_varint, "varlong longer than 10 bytes");
  return 0;
}

uint32_t reader::read_uvarint() {
  uint32_t v = 0;
  for (int shift = 0; shift < 35; shift += 7) {
    if (!need(1, "varint")) return 0;
    const auto b = static_cast<uint8_t>(data_[pos_++]);
    if (shift == 28 && (b & 0xf0)) break;  // the fifth byte may carry 4 bits only
    v |= static_cast<uint32_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) return v;
  }
  fail(errc::invalid_varint, "varint longer than 5 bytes");
  return 0;
}

int32_t reader::read_varint() {
  const uint32_t u = read_uvarint();
  return static_cast<int32_t>((u >> 1) ^ (~(u & 1) + 1));
}

int64_t reader::read_varlong() {
  const uint64_t u = read_uvarlong();
  return static_cast<int64_t>((u >> 1) ^ (~(u & 1) + 1));
}

std::string_view reader::read_raw(size_t n) {
  if (!need(n, "bytes")) return {};
  std::string_view v = data_.substr(pos_, n);
  pos_ += n;
  return v;
}

int32_t reader::read_string_length(bool flexible) {
  int64_t n;
  if (flexible) {
    n = static_cast<int64_t>(read_uvarint()) - 1;
  } else {
    n = read_int16();
  }
  if (!ok()) return -1;
  if (n < -1 || n > static_cast<int64_t>(max_string_length)) {
    fail(errc::invalid_length, "string length " + std::to_string(n));
    return -1;
  }
  if (static_cast<uint64_t>(std::max<int64_t>(n, 0)) > remaining()) {
    fail(errc::truncated, "string of " + std::to_string(n) + " bytes");
    return -1;
  }
  return static_cast<int32_t>(n);
}

int32_t reader::read_bytes_length(bool flexible) {
  return read_array_length(flexible, 1);
}

int32_t reader::read_array_length(bool flexible, size_t min_element_size) {
  int64_t n;
  if (flexible) {
    n = static_cast<int64_t>(read_uvarint()) - 1;
  } else {
    n = read_int32();
  }
  if (!ok()) return -1;
  if (n < -1) {
    fail(errc::invalid_length, "length " + std::to_string(n));
    return -1;
  }
  if (n > 0 && static_cast<uint64_t>(n) * std::max<size_t>(min_element_size, 1) > remaining()) {
    fail(errc::invalid_length,
         "length " + std::to_string(n) + " exceeds the remaining " + std::to_string(remaining()) + " bytes");
    return -1;
  }
  return static_cast<int32_t>(n);
}

void reader::read_string(std::string& out, bool flexible, const char* field) {
  const int32_t n = read_string_length(flexible);
  if (!ok()) return;
  if (n < 0) return fail(errc::unexpected_null, field);
  out.assign(read_raw(static_cast<size_t>(n)));
}

void reader::read_string(std::optional<std::string>& out, bool flexible, bool nullable, const char* field) {
  const int32_t n = read_string_length(flexible);
  if (!ok()) return;
  if (n < 0) {
    if (!nullable) return fail(errc::unexpected_null, field);
    out.reset();
    return;
  }
  out.emplace(read_raw(static_cast<size_t>(n)));
}

void reader::read_bytes(std::string& out, bool flexible, const char* field) {
  const int32_t n = read_bytes_length(flexible);
  if (!ok()) return;
  if (n < 0) return fail(errc::unexpected_null, field);
  out.assign(read_raw(static_cast<size_t>(n)));
}

void reader::read_bytes(std::optional<std::string>& out, bool flexible, bool nullable, const char* field) {
  const int32_t n = read_bytes_length(flexible);
  if (!ok()) return;
  if (n < 0) {
    if (!nullable) return fail(errc::unexpected_null, field);
    out.reset();
    return;
  }
  out.emplace(read_raw(static_cast<size_t>(n)));
}

void reader::read_records(std::string_view& out, bool flexible, const char* field) {
  const int32_t n = read_bytes_length(flexible);
  if (!ok()) return;
  if (n < 0) return fail(errc::unexpected_null, field);
  out = read_raw(static_cast<size_t>(n));
}

void reader::read_records(std::optional<std::string_view>& out, bool flexible, bool nullable,
                          const char* field) {
  const int32_t n = read_bytes_length(flexible);
  if (!ok()) return;
  if (n < 0) {
    if (!nullable) return fail(errc::unexpected_null, field);
    out.reset();
    return;
  }
  out = read_raw(static_cast<size_t>(n));
}

void writer::write_float64(double v) {
  write_be(std::bit_cast<uint64_t>(v));
}

void writer::write_uvarlong(uint64_t v) {
  while (v >= 0x80) {
    buf_.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  buf_.push_back(static_cast<char>(v));
}

void writer::write_string(std::string_view s, bool flexible) {
  if (s.size() > max_string_length) {
    ok_ = false;
    s = s.substr(0, max_string_length);
  }
  if (flexible) {
    write_uvarint(static_cast<uint32_t>(s.size() + 1));
  } else {
    write_int16(static_cast<int16_t>(s.size()));
  }
  buf_.append(s);
}

void writer::write_string(const std::optional<std::string>& s, bool flexible) {
  if (s) return write_string(std::string_view(*s), flexible);
  write_null(flexible, true);
}

void writer::write_bytes(std::string_view b, bool flexible) {
  if (flexible) {
    write_uvarint(static_cast<uint32_t>(b.size() + 1));
  } else {
    write_int32(static_cast<int32_t>(b.size()));
  }
  buf_.append(b);
}

void writer::write_bytes(const std::optional<std::string>& b, bool flexible) {
  if (b) return write_bytes(std::string_view(*b), flexible);
  write_null(flexible, false);
}

void writer::write_records(const std::optional<std::string_view>& b, bool flexible) {
  if (b) return write_bytes(*b, flexible);
  write_null(flexible, false);
}

void writer::write_null(bool flexible, bool int16_length) {
  if (flexible) {
    write_uvarint(0);
  } else if (int16_length) {
    write_int16(-1);
  } else {
    write_int32(-1);
  }
}

void writer::write_array_length(size_t n, bool flexible) {
  if (flexible) {
    write_uvarint(static_cast<uint32_t>(n + 1));
  } else {
    write_int32(static_cast<int32_t>(n));
  }
}

void writer::patch_int32(size_t pos, int32_t v) {
  const auto u = static_cast<uint32_t>(v);
  for (int i = 0; i < 4; ++i) buf_[pos + i] = static_cast<char>(u >> (24 - 8 * i));
}

tag_section_writer::tag_section_writer(writer& w, const tagged_fields& unknown, size_t known_count)
    : w_(w), unknown_(unknown) {
  w_.write_uvarint(static_cast<uint32_t>(known_count + unknown.size()));
}

void tag_section_writer::flush_unknown_below(uint32_t tag, bool all) {
  while (next_ < unknown_.size() && (all || unknown_[next_].tag < tag)) {
    const tagged_field& f = unknown_[next_++];
    w_.write_uvarint(f.tag);
    w_.write_uvarint(static_cast<uint32_t>(f.data.size()));
    w_.write_raw(f.data);
  }
}

}  // namespace sluice::kafka::protocol
