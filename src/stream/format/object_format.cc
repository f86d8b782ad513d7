#include "stream/format/object_format.h"

#include <isa-l/crc.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <limits>

namespace sluice::stream::format {

namespace {

// Layout of format version 1 (docs/STREAM_FORMAT.md). All integers little-endian.
constexpr char kBlockMagic[4] = {'S', 'L', 'B', 'K'};
constexpr char kObjectMagic[8] = {'\x89', 'S', 'L', 'S', 'T', 'R', '\r', '\n'};
constexpr size_t kBlockHeaderSize = 20;   // magic 4 | stream 8 | record_count 4 | payload_length 4
constexpr size_t kRecordHeaderSize = 32;  // base 8 | count 4 | max_timestamp 8 | epoch 8 | payload_length 4
constexpr size_t kCrcSize = 4;
constexpr size_t kBlockOverhead = kBlockHeaderSize + kCrcSize;
constexpr size_t kEntrySize =
    48;  // stream 8 | start 8 | end 8 | record_count 4 | position 8 | size 4 | max_ts 8
constexpr size_t kFooterSize = 24;  // index_position 8 | index_length 4 | version 4 | magic 8
// A block's size is a u32 in its index entry.
constexpr uint64_t kMaxBlockSize = std::numeric_limits<uint32_t>::max();
constexpr uint64_t kMaxRecordPayload = kMaxBlockSize - kBlockOverhead - kRecordHeaderSize;
constexpr offset kMaxOffset = std::numeric_limits<offset>::max();

uint32_t crc32c(std::string_view data) {
  uint32_t crc = ~0u;
  auto* p = reinterpret_cast<unsigned char*>(const_cast<char*>(data.data()));
  size_t n = data.size();
  while (n > 0) {  // crc32_iscsi takes an int length
    int k = static_cast<int>(std::min<size_t>(n, INT_MAX / 2));
    crc = crc32_iscsi(p, k, crc);
    p += k;
    n -= static_cast<size_t>(k);
  }
  return ~crc;
}

template <class T>
void put_le(std::string& out, T v) {
  auto u = static_cast<std::make_unsigned_t<T>>(v);
  char b[sizeof(T)];
  for (size_t i = 0; i < sizeof(T); ++i) b[i] = static_cast<char>((u >> (8 * i)) & 0xff);
  out.append(b, sizeof(T));
}

template <class T>
void store_le(char* at, T v) {
  auto u = static_cast<std::make_unsigned_t<T>>(v);
  for (size_t i = 0; i < sizeof(T); ++i) at[i] = static_cast<char>((u >> (8 * i)) & 0xff);
}

template <class T>
T load_le(const char* p) {
  std::make_unsigned_t<T> u = 0;
  for (size_t i = sizeof(T); i-- > 0;)
    u = static_cast<decltype(u)>(u << 8 | static_cast<unsigned char>(p[i]));
  return static_cast<T>(u);
}

// A bounds-checked little-endian reader over untrusted bytes.
class reader {
 public:
  explicit reader(std::string_view b) : b_(b) {}
  size_t remaining() const { return b_.size() - pos_; }
  size_t pos() const { return pos_; }
  template <class T>
  T get() {  // callers check remaining() first
    T v = load_le<T>(b_.data() + pos_);
    pos_ += sizeof(T);
    return v;
  }
  std::string_view bytes(size_t n) {
    auto v = b_.substr(pos_, n);
    pos_ += n;
    return v;
  }

 private:
  std::string_view b_;
  size_t pos_ = 0;
};

auto corrupt(std::string what) {
  return fail(errc::corrupt, std::move(what));
}

void encode_entry(std::string& out, const block_entry& e) {
  put_le<uint64_t>(out, e.stream.value());
  put_le<int64_t>(out, e.start);
  put_le<int64_t>(out, e.end);
  put_le<uint32_t>(out, e.record_count);
  put_le<uint64_t>(out, e.position);
  put_le<uint32_t>(out, e.size);
  put_le<int64_t>(out, e.max_timestamp);
}

block_entry decode_entry(reader& r) {
  block_entry e;
  e.stream = stream_id(r.get<uint64_t>());
  e.start = r.get<int64_t>();
  e.end = r.get<int64_t>();
  e.record_count = r.get<uint32_t>();
  e.position = r.get<uint64_t>();
  e.size = r.get<uint32_t>();
  e.max_timestamp = r.get<int64_t>();
  return e;
}

}  // namespace

struct object_writer::impl {
  sink_fn sink;
  std::string* out = nullptr;  // in-place mode: blocks are built inside *out (no sink, no copy)
  size_t block_size;
  std::string block;       // sink mode: the open block: header (filled when it closes) + records
  size_t block_start = 0;  // where the open block starts in buf()
  block_entry open;        // its entry; meaningful while the open block is not empty
  std::vector<block_entry> index;
  uint64_t written = 0;
  bool have_last = false;
  stream_id last_stream;
  offset last_end = 0;
  bool finished = false;
  std::optional<error> failed;  // the sink's error; the object is lost

  std::string& buf() { return out ? *out : block; }
  size_t open_size() { return buf().size() - block_start; }

  result<void> emit(std::string_view bytes) {
    if (out) {
      out->append(bytes);
    } else if (auto r = sink(bytes); !r) {
      failed = r.error();
      return fail(r.error());
    }
    written += bytes.size();
    return ok();
  }

  result<void> close_block() {
    if (open_size() == 0) return ok();
    std::string& b = buf();
    char* start = b.data() + block_start;
    store_le<uint32_t>(start + 12, open.record_count);
    store_le<uint32_t>(start + 16, static_cast<uint32_t>(open_size() - kBlockHeaderSize));
    put_le<uint32_t>(b, crc32c(std::string_view(b).substr(block_start)));
    open.position = written;
    open.size = static_cast<uint32_t>(open_size());
    if (out) {
      written += open_size();  // already in place
      block_start = out->size();
    } else {
      SLUICE_TRY(emit(block));
      block.clear();
    }
    index.push_back(open);
    return ok();
  }
};

object_writer::object_writer(sink_fn sink, size_t block_size) : impl_(std::make_shared<impl>()) {
  impl_->sink = std::move(sink);
  impl_->block_size = std::max<size_t>(block_size, 1);
}

object_writer::object_writer(std::string& out, size_t block_size) : impl_(std::make_shared<impl>()) {
  impl_->out = &out;
  impl_->block_start = out.size();
  impl_->written = 0;
  impl_->block_size = std::max<size_t>(block_size, 1);
}

result<void> object_writer::add(const record& r) {
  auto& w = *impl_;
  if (w.failed) return fail(*w.failed);
  if (w.finished) return fail(errc::bad_argument, "object writer: add() after finish()");
  if (r.count == 0) return fail(errc::bad_argument, "object writer: record covers no offset");
  if (r.base < 0 || r.base > kMaxOffset - r.count) {
    return fail(errc::bad_argument, "object writer: record offsets out of range");
  }
  if (r.payload.size() > kMaxRecordPayload)
    return fail(errc::record_too_large, "object writer: record too large");
  if (w.have_last) {
    if (r.stream < w.last_stream) {
      return fail(errc::bad_argument, "object writer: stream " + std::to_string(r.stream.value()) +
                                          " after stream " + std::to_string(w.last_stream.value()));
    }
    if (r.stream == w.last_stream && r.base < w.last_end) {
      return fail(errc::bad_argument, "object writer: stream " + std::to_string(r.stream.value()) +
                                          " record at " + std::to_string(r.base) + ", expected " +
                                          std::to_string(w.last_end));
    }
  }
  size_t grown = w.open_size() + kRecordHeaderSize + r.payload.size() + kCrcSize;
  // A new block at a stream change, at the size limit, and at a gap in a
  // stream's offsets (compaction may merge ranges that are not adjacent);
  // within a block offsets are contiguous.
  if (w.open_size() != 0 && (r.stream != w.open.stream || r.base != w.open.end || grown > kMaxBlockSize)) {
    SLUICE_TRY(w.close_block());
  }
  std::string& b = w.buf();
  if (w.open_size() == 0) {
    if (!w.out) b.reserve(std::min<size_t>(w.block_size + kBlockOverhead, 16 << 20));
    b.append(kBlockMagic, sizeof(kBlockMagic));
    put_le<uint64_t>(b, r.stream.value());
    put_le<uint32_t>(b, 0);  // record_count, set at close
    put_le<uint32_t>(b, 0);  // payload_length, set at close
    w.open = block_entry{.stream = r.stream, .start = r.base, .end = r.base};
  }
  put_le<int64_t>(b, r.base);
  put_le<uint32_t>(b, r.count);
  put_le<int64_t>(b, r.max_timestamp);
  put_le<uint64_t>(b, r.epoch.value());
  put_le<uint32_t>(b, static_cast<uint32_t>(r.payload.size()));
  b.append(r.payload);
  w.open.end = r.end();
  ++w.open.record_count;
  w.open.max_timestamp = std::max(w.open.max_timestamp, r.max_timestamp);
  w.have_last = true;
  w.last_stream = r.stream;
  w.last_end = r.end();
  if (w.open_size() + kCrcSize >= w.block_size) {
    SLUICE_TRY(w.close_block());
  }
  return ok();
}

result<void> object_writer::finish() {
  auto& w = *impl_;
  if (w.failed) return fail(*w.failed);
  if (w.finished) return fail(errc::bad_argument, "object writer: finish() called twice");
  SLUICE_TRY(w.close_block());
  std::string tail;
  tail.reserve(w.index.size() * kEntrySize + kCrcSize + kFooterSize);
  for (const auto& e : w.index) encode_entry(tail, e);
  put_le<uint32_t>(tail, crc32c(tail));
  if (tail.size() > std::numeric_limits<uint32_t>::max()) {
    return fail(errc::bad_argument, "object writer: too many blocks for one object");
  }
  auto index_length = static_cast<uint32_t>(tail.size());
  put_le<uint64_t>(tail, w.written);  // index position: right after the last block
  put_le<uint32_t>(tail, index_length);
  put_le<uint32_t>(tail, kFormatVersion);
  tail.append(kObjectMagic, sizeof(kObjectMagic));
  SLUICE_TRY(w.emit(tail));
  w.finished = true;
  return ok();
}

size_t object_writer::final_bytes() const {
  const auto& w = *impl_;
  if (!w.out) return 0;
  return w.finished ? w.out->size() : w.block_start;
}

result<void> object_writer::drop_final() {
  auto& w = *impl_;
  if (!w.out) return fail(errc::bad_argument, "object writer: drop_final() needs the in-place mode");
  if (w.finished) {
    w.out->clear();
  } else {
    w.out->erase(0, w.block_start);  // the open block (usually one record) moves to the front
  }
  w.block_start = 0;
  return ok();
}

uint64_t object_writer::bytes_written() const {
  return impl_->written;
}

const std::vector<block_entry>& object_writer::index() const {
  return impl_->index;
}

std::vector<stream_range> object_writer::ranges() const {
  std::vector<stream_range> out;
  for (const auto& e : impl_->index) {
    if (out.empty() || out.back().stream != e.stream) out.push_back({e.stream, e.start, e.start, 0});
    out.back().end = e.end;
    out.back().bytes += e.size;
  }
  return out;
}

result<std::string> build_object(const std::vector<record>& sorted, size_t block_size) {
  std::string out;
  object_writer w(
      [&](std::string_view b) -> result<void> {
        out.append(b);
        return ok();
      },
      block_size);
  for (const auto& r : sorted) {
    SLUICE_TRY(w.add(r));
  }
  SLUICE_TRY(w.finish());
  return out;
}

uint64_t tail_guess(uint64_t object_size) {
  // 16 KiB covers the footer and ~340 entries (objects with many small
  // streams); beyond that, room for one entry per 256 KiB of data, twice the
  // default block density.
  uint64_t guess = (16u << 10) + object_size / (256u << 10) * kEntrySize;
  return std::min(guess, object_size);
}

result<parsed_index> parse_index(std::string_view tail, uint64_t object_size) {
  if (tail.size() > object_size) return fail(errc::bad_argument, "object index: tail longer than the object");
  if (object_size < kFooterSize + kCrcSize)
    return corrupt("object index: object too small to be a stream object");
  parsed_index out;
  if (tail.size() < kFooterSize) {
    out.need_tail_bytes = std::max<uint64_t>(tail_guess(object_size), kFooterSize);
    return out;
  }
  reader footer(tail.substr(tail.size() - kFooterSize));
  auto index_position = footer.get<uint64_t>();
  auto index_length = footer.get<uint32_t>();
  auto version = footer.get<uint32_t>();
  if (std::memcmp(footer.bytes(sizeof(kObjectMagic)).data(), kObjectMagic, sizeof(kObjectMagic)) != 0) {
    return corrupt("object index: bad magic");
  }
  if (version != kFormatVersion) {
    return corrupt("object index: unsupported format version " + std::to_string(version));
  }
  if (index_length < kCrcSize || (index_length - kCrcSize) % kEntrySize != 0) {
    return corrupt("object index: bad index length " + std::to_string(index_length));
  }
  // The index sits right before the footer, the blocks right before the index.
  if (uint64_t{index_length} + kFooterSize > object_size ||
      index_position != object_size - kFooterSize - index_length) {
    return corrupt("object index: index position/length do not match the object size");
  }
  if (tail.size() < uint64_t{index_length} + kFooterSize) {
    out.need_tail_bytes = uint64_t{index_length} + kFooterSize;
    return out;
  }
  std::string_view index = tail.substr(tail.size() - kFooterSize - index_length, index_length);
  std::string_view entries = index.substr(0, index.size() - kCrcSize);
  if (crc32c(entries) != load_le<uint32_t>(index.data() + entries.size())) {
    return corrupt("object index: CRC mismatch");
  }
  reader r(entries);
  size_t n = entries.size() / kEntrySize;
  out.blocks.reserve(n);
  uint64_t next_position = 0;
  for (size_t i = 0; i < n; ++i) {
    block_entry e = decode_entry(r);
    auto bad = [&](const char* what) {
      return corrupt("object index: entry " + std::to_string(i) + ": " + what);
    };
    if (e.start < 0 || e.end <= e.start) return bad("bad offset range");
    if (e.record_count == 0 || static_cast<uint64_t>(e.end - e.start) < e.record_count) {
      return bad("record count does not fit the offset range");
    }
    if (e.size < kBlockOverhead + uint64_t{kRecordHeaderSize} * e.record_count) {
      return bad("block too small for its records");
    }
    if (e.position != next_position) return bad("block not where the previous one ends");
    next_position += e.size;
    if (next_position > index_position) return bad("block overlaps the index");
    if (i > 0) {
      const auto& p = out.blocks.back();
      if (e.stream < p.stream) return bad("streams out of order");
      if (e.stream == p.stream && e.start < p.end) return bad("offsets overlap the previous block");
    }
    out.blocks.push_back(e);
  }
  if (next_position != index_position)
    return corrupt("object index: blocks do not end where the index starts");
  return out;
}

std::vector<block_entry> find_blocks(const std::vector<block_entry>& blocks, stream_id s, offset from,
                                     offset to) {
  std::vector<block_entry> out;
  if (from >= to) return out;
  // Within a stream, blocks do not overlap, so their ends ascend like their starts.
  auto it = std::partition_point(blocks.begin(), blocks.end(), [&](const block_entry& e) {
    return e.stream < s || (e.stream == s && e.end <= from);
  });
  for (; it != blocks.end() && it->stream == s && it->start < to; ++it) out.push_back(*it);
  return out;
}

result<std::vector<record>> decode_block(const shared_bytes& block_bytes, const block_entry& entry) {
  const std::string_view block = block_bytes;
  if (block.size() != entry.size) {
    return corrupt("data block: " + std::to_string(block.size()) + " bytes, index says " +
                   std::to_string(entry.size));
  }
  if (block.size() < kBlockOverhead) return corrupt("data block: too small");
  if (std::memcmp(block.data(), kBlockMagic, sizeof(kBlockMagic)) != 0)
    return corrupt("data block: bad magic");
  std::string_view body = block.substr(0, block.size() - kCrcSize);
  if (crc32c(body) != load_le<uint32_t>(block.data() + body.size()))
    return corrupt("data block: CRC mismatch");
  reader r(body);
  r.bytes(sizeof(kBlockMagic));
  auto stream = stream_id(r.get<uint64_t>());
  auto record_count = r.get<uint32_t>();
  auto payload_length = r.get<uint32_t>();
  if (stream != entry.stream) return corrupt("data block: stream differs from the index");
  if (record_count != entry.record_count) return corrupt("data block: record count differs from the index");
  if (payload_length != r.remaining()) return corrupt("data block: bad payload length");
  if (entry.start < 0) return corrupt("data block: negative offset");
  std::vector<record> out;
  out.reserve(std::min<size_t>(record_count, r.remaining() / kRecordHeaderSize));
  offset next = entry.start;
  int64_t max_timestamp = -1;
  for (uint32_t i = 0; i < record_count; ++i) {
    if (r.remaining() < kRecordHeaderSize) return corrupt("data block: truncated record header");
    record rec;
    rec.stream = stream;
    rec.base = r.get<int64_t>();
    rec.count = r.get<uint32_t>();
    rec.max_timestamp = r.get<int64_t>();
    rec.epoch = epoch(r.get<uint64_t>());
    auto len = r.get<uint32_t>();
    if (rec.base != next) return corrupt("data block: record offsets not contiguous");
    if (rec.count == 0 || rec.base > kMaxOffset - rec.count) return corrupt("data block: bad record count");
    if (len > r.remaining()) return corrupt("data block: record payload past the block end");
    const std::string_view bytes = r.bytes(len);
    rec.payload = block_bytes.substr(static_cast<size_t>(bytes.data() - block.data()), len);
    next = rec.end();
    max_timestamp = std::max(max_timestamp, rec.max_timestamp);
    out.push_back(std::move(rec));
  }
  if (r.remaining() != 0) return corrupt("data block: bytes after the last record");
  if (next != entry.end) return corrupt("data block: end offset differs from the index");
  if (max_timestamp != entry.max_timestamp)
    return corrupt("data block: max timestamp differs from the index");
  return out;
}

}  // namespace sluice::stream::format
