#include "worker/offset_tracker.h"

namespace sluice::worker {

void offset_tracker::dispatched(int64_t offset) {
  pending_.emplace(offset, false);
}

void offset_tracker::finished(int64_t offset) {
  auto it = pending_.find(offset);
  if (it == pending_.end()) return;
  it->second = true;
  while (!pending_.empty() && pending_.begin()->second) {
    done_upto_ = pending_.begin()->first + 1;
    pending_.erase(pending_.begin());
  }
}

std::optional<int64_t> offset_tracker::to_commit() const {
  if (done_upto_ > committed_) return done_upto_;
  return std::nullopt;
}

int64_t offset_tracker::first_unfinished() const {
  return pending_.empty() ? done_upto_ : pending_.begin()->first;
}

}  // namespace sluice::worker
