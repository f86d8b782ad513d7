#include "base/wake_batch.h"

#include <algorithm>

namespace sluice {

namespace {
thread_local wake_batch* open_batch = nullptr;
}

wake_batch* wake_batch::current() {
  return open_batch;
}

wake_batch::wake_batch() : outermost_(open_batch == nullptr) {
  if (outermost_) open_batch = this;
}

wake_batch::~wake_batch() {
  if (!outermost_) return;
  run();
  open_batch = nullptr;
}

bool wake_batch::has(const void* key) const {
  return std::any_of(pending_.begin(), pending_.end(), [&](const auto& e) { return e.first == key; });
}

void wake_batch::run() {
  // A deferred function may itself complete something and wake: keep going
  // until nothing is left (each key still runs at most once per round).
  while (!pending_.empty()) {
    auto todo = std::move(pending_);
    pending_.clear();
    for (auto& [key, fn] : todo) fn();
  }
}

}  // namespace sluice
