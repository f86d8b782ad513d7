#pragma once
// In-order commits for one partition while its messages finish out of order.
//
// Messages are handed out in offset order and may finish in any order; the
// committable offset (the next one to consume, Kafka's commit convention) only
// moves past a message once it and every message before it have finished. So
// a crash never skips an unfinished message: at worst finished ones after it
// are processed again (at-least-once).
//
// Threading: none; the consumer guards each tracker with its lock.
#include <cstdint>
#include <map>
#include <optional>

namespace sluice::worker {

class offset_tracker {
 public:
  // A message at `offset` was handed out; offsets must grow.
  void dispatched(int64_t offset);
  // The message at `offset` (dispatched before) is finished.
  void finished(int64_t offset);
  // The offset to commit when it moved past the last committed one.
  std::optional<int64_t> to_commit() const;
  void committed(int64_t next) { committed_ = next; }
  // The first offset not yet finished (-1 before the first dispatch).
  int64_t first_unfinished() const;
  size_t pending() const { return pending_.size(); }

 private:
  std::map<int64_t, bool> pending_;  // dispatched offset → finished
  int64_t done_upto_ = -1;           // every offset below it is finished
  int64_t committed_ = -1;
};

}  // namespace sluice::worker
