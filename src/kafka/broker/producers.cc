#include "kafka/broker/producers.h"

#include <cstring>

namespace sluice::kafka {

namespace {

template <class T>
T be(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  if constexpr (sizeof(T) == 2) return static_cast<T>(__builtin_bswap16(static_cast<uint16_t>(v)));
  if constexpr (sizeof(T) == 4) return static_cast<T>(__builtin_bswap32(static_cast<uint32_t>(v)));
  if constexpr (sizeof(T) == 8) return static_cast<T>(__builtin_bswap64(static_cast<uint64_t>(v)));
  return v;
}

// Sequence numbers wrap from INT32_MAX to 0.
int32_t next_seq(int32_t s) {
  return s == INT32_MAX ? 0 : s + 1;
}
int32_t add_seq(int32_t s, int32_t d) {
  int64_t v = static_cast<int64_t>(s) + d;
  return static_cast<int32_t>(v > INT32_MAX ? v - INT32_MAX - 1 : v);
}

}  // namespace

std::optional<batch_header> peek_batch_header(std::string_view b) {
  if (b.size() < 61 || b[16] != 2) return std::nullopt;
  batch_header h;
  int16_t attrs = be<int16_t>(b.data() + 21);
  h.transactional = attrs & 0x10;
  h.control = attrs & 0x20;
  h.last_offset_delta = be<int32_t>(b.data() + 23);
  h.max_timestamp = be<int64_t>(b.data() + 35);
  h.producer_id = be<int64_t>(b.data() + 43);
  h.producer_epoch = be<int16_t>(b.data() + 51);
  h.base_sequence = be<int32_t>(b.data() + 53);
  return h;
}

producer_table::check_result producer_table::check(const batch_header& h) const {
  if (h.producer_id < 0) return {};
  auto it = state_.find(h.producer_id);
  if (it == state_.end()) return {};  // a new producer (or one whose state aged out): accept
  const auto& p = it->second;
  if (h.producer_epoch < p.epoch) return {verdict::fenced_epoch};
  if (h.producer_epoch > p.epoch) {
    // A bumped epoch starts its sequences again at 0.
    if (h.base_sequence != 0) return {verdict::out_of_order};
    return {};
  }
  int32_t last_seq = add_seq(h.base_sequence, h.last_offset_delta);
  for (const auto& b : p.recent) {
    if (b.first_seq == h.base_sequence && b.last_seq == last_seq)
      return {verdict::duplicate, b.base_offset, b.last_offset};
  }
  if (p.recent.empty()) return {};
  if (h.base_sequence != next_seq(p.recent.back().last_seq)) return {verdict::out_of_order};
  return {};
}

void producer_table::record(const batch_header& h, int64_t base_offset) {
  if (h.producer_id < 0) return;
  auto& p = state_[h.producer_id];
  if (h.producer_epoch != p.epoch) {
    p.epoch = h.producer_epoch;
    p.recent.clear();
  }
  p.recent.push_back(batch{h.base_sequence, add_seq(h.base_sequence, h.last_offset_delta), base_offset,
                           base_offset + h.last_offset_delta});
  while (p.recent.size() > batches_kept) p.recent.pop_front();
}

void producer_table::clear() {
  state_.clear();
}

}  // namespace sluice::kafka
