#include "kafka/broker/producers.h"

namespace sluice::kafka {

namespace {

// Sequence numbers wrap from INT32_MAX to 0.
int32_t next_seq(int32_t s) {
  return s == INT32_MAX ? 0 : s + 1;
}

}  // namespace

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
  int32_t last_seq = h.last_sequence();
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
  p.recent.push_back(
      batch{h.base_sequence, h.last_sequence(), base_offset, base_offset + h.last_offset_delta});
  while (p.recent.size() > batches_kept) p.recent.pop_front();
}

void producer_table::clear() {
  state_.clear();
}

}  // namespace sluice::kafka
