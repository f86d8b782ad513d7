#include "stream/record_codec.h"

#include <cstring>

namespace sluice::stream {

namespace {

constexpr uint8_t magic = 0x53;

template <class T>
void put(char*& p, T v) {
  std::memcpy(p, &v, sizeof(T));  // the WAL format is little-endian; so are the machines we run on
  p += sizeof(T);
}

template <class T>
T get(const char*& p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  p += sizeof(T);
  return v;
}

}  // namespace

std::array<char, record_header_bytes> encode_wal_record_header(const record& r) {
  std::array<char, record_header_bytes> out;
  char* p = out.data();
  *p++ = static_cast<char>(magic);
  put<uint64_t>(p, r.stream.value());
  put<uint64_t>(p, r.epoch.value());
  put<int64_t>(p, r.base);
  put<uint32_t>(p, r.count);
  put<int64_t>(p, r.max_timestamp);
  put<uint32_t>(p, static_cast<uint32_t>(r.payload.size()));
  return out;
}

std::string encode_wal_record(const record& r) {
  const auto header = encode_wal_record_header(r);
  std::string out;
  out.reserve(record_header_bytes + r.payload.size());
  out.append(header.data(), header.size());
  out.append(r.payload);
  return out;
}

result<record> decode_wal_record(std::string_view bytes) {
  if (bytes.size() < record_header_bytes || static_cast<uint8_t>(bytes[0]) != magic) {
    return fail(errc::corrupt, "WAL record: bad header");
  }
  const char* p = bytes.data() + 1;
  record r;
  r.stream = stream_id(get<uint64_t>(p));
  r.epoch = stream::epoch(get<uint64_t>(p));
  r.base = get<int64_t>(p);
  r.count = get<uint32_t>(p);
  r.max_timestamp = get<int64_t>(p);
  uint32_t len = get<uint32_t>(p);
  if (len != bytes.size() - record_header_bytes || r.base < 0 || r.count == 0) {
    return fail(errc::corrupt, "WAL record: bad length or offsets");
  }
  r.payload = shared_bytes(std::string(p, len));
  return r;
}

}  // namespace sluice::stream
