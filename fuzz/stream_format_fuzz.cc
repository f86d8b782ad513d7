// Fuzzes the stream object reader (docs/STREAM_FORMAT.md): parse_index on the
// input as a whole object and as short tails, decode_block on every block it
// indexes and on the input with an entry taken from its first bytes. Nothing
// may crash, and whatever decodes must agree with its index entry.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "stream/format/object_format.h"

using namespace sluice::stream;

namespace {

void check_records(const std::vector<record>& recs, const format::block_entry& e) {
  if (recs.size() != e.record_count) std::abort();
  offset next = e.start;
  for (const auto& r : recs) {
    if (r.stream != e.stream || r.base != next || r.count == 0) std::abort();
    next = r.end();
  }
  if (next != e.end) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);

  // The input as a whole object.
  if (auto idx = format::parse_index(in, in.size())) {
    if (idx.value().need_tail_bytes) std::abort();  // the whole object was given
    const auto& blocks = idx.value().blocks;
    for (const auto& e : blocks) {
      if (e.position + e.size > in.size()) std::abort();
      if (auto recs = format::decode_block(in.substr(e.position, e.size), e)) check_records(recs.value(), e);
    }
    if (!blocks.empty()) {
      const auto& first = blocks.front();
      for (const auto& e : format::find_blocks(blocks, first.stream, first.start, first.end + 1)) {
        if (e.stream != first.stream) std::abort();
      }
    }
  }

  // The input as the tail of a larger object (first 8 bytes: how much larger).
  if (size >= 8) {
    uint64_t extra = 0;
    std::memcpy(&extra, data, 8);
    extra %= (1ull << 40);
    std::string_view tail = in.substr(8);
    if (auto idx = format::parse_index(tail, tail.size() + extra)) {
      if (auto need = idx.value().need_tail_bytes;
          need && (*need <= tail.size() || *need > tail.size() + extra)) {
        std::abort();
      }
    }
  }

  // A block with an entry built from the first 48 bytes.
  if (size >= 48) {
    format::block_entry e;
    uint64_t v[6];
    std::memcpy(v, data, sizeof v);
    e.stream = stream_id(v[0]);
    e.start = static_cast<offset>(v[1]);
    e.end = static_cast<offset>(v[2]);
    e.record_count = static_cast<uint32_t>(v[3]);
    e.max_timestamp = static_cast<int64_t>(v[4]);
    e.size = static_cast<uint32_t>(size - 48);
    if (auto recs = format::decode_block(in.substr(48), e)) check_records(recs.value(), e);
  }
  return 0;
}
