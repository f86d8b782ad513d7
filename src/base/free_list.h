#pragma once
// free_list: buffers kept for reuse, at most `keep` of them; take() hands out
// the most recently given one (its pages are the likeliest to be mapped and
// cached), give() drops what is over the bound. For process-wide pools of
// large buffers whose fresh allocation costs page faults (base/byte_arena.h,
// the local store's chunk buffers).
//
// Threading: every method may be called from any thread.
#include <algorithm>
#include <cstddef>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

namespace sluice {

template <class T>
class free_list {
 public:
  explicit free_list(size_t keep) : keep_(keep) {}

  std::optional<T> take() {
    std::lock_guard lk(mu_);
    if (free_.empty()) return std::nullopt;
    T t = std::move(free_.back());
    free_.pop_back();
    return t;
  }

  void give(T t) {
    std::lock_guard lk(mu_);
    if (free_.size() < keep_) free_.push_back(std::move(t));
  }

  size_t size() const {
    std::lock_guard lk(mu_);
    return free_.size();
  }

  // Keeps at least `keep` from now on.
  void keep_at_least(size_t keep) {
    std::lock_guard lk(mu_);
    keep_ = std::max(keep_, keep);
  }

 private:
  size_t keep_;
  mutable std::mutex mu_;
  std::vector<T> free_;
};

}  // namespace sluice
