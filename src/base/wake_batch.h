#pragma once
// Coalesced wake-ups for threads that complete many requests at once.
//
// The WAL's syncer acknowledges a whole group of appends in one go; each
// acknowledgement used to wake a waiting thread right away (the connection's
// response writer, a parked fetch), so one flush woke the same thread once per
// request, and that thread took the lock the syncer was about to take again.
// A `wake_batch` open on the completing thread collects those wake-ups, keyed
// by what they wake, and runs each once when the batch ends:
//
//   {
//     wake_batch batch;                        // on the syncer
//     for (auto& e : entries) e.done(...);     // done() calls wake_batch::wake(&cv, ...)
//   }                                          // each distinct key woken once, here
//
// Outside a batch, wake() runs its function at once. Batches nest: only the
// outermost one defers. The functions run on the thread that opened the batch,
// after the completions, in the order their keys were first seen.
#include <functional>
#include <utility>
#include <vector>

namespace sluice {

class wake_batch {
 public:
  wake_batch();
  ~wake_batch();
  wake_batch(const wake_batch&) = delete;
  wake_batch& operator=(const wake_batch&) = delete;

  // Runs `fn` now when no batch is open on this thread; otherwise once at the
  // end of the batch, unless a function was already deferred for `key` (the
  // first one given for a key is kept). `fn` must own what it touches (e.g.
  // hold a shared_ptr to the object whose condition variable it signals).
  template <class F>
  static void wake(const void* key, F&& fn) {
    wake_batch* b = current();
    if (b == nullptr) {
      fn();
    } else if (!b->has(key)) {
      b->pending_.emplace_back(key, std::function<void()>(std::forward<F>(fn)));
    }
  }

  // Whether a batch is open on this thread.
  static bool active() { return current() != nullptr; }

 private:
  static wake_batch* current();
  bool has(const void* key) const;
  void run();

  bool outermost_;
  std::vector<std::pair<const void*, std::function<void()>>> pending_;
};

}  // namespace sluice
