#pragma once
// Deferred removal of folders nothing references any more: a replaced
// version's data, a deleted object's. The request that drops them renames each
// into the drive's trash folder (one rename in the same file system) and a
// background thread removes it, so the request does not wait while the file
// system frees the blocks: on ext4 with online discard, unlinking a 64 MiB part
// file took 26-31 ms, about a ninth of a 64 MiB PUT (docs/BENCHMARKS.md). MinIO
// does the same with its .trash folder.
//
// Nothing durable depends on the removal: the folder is garbage once the
// metadata that named it was committed. Leftovers of a crash or of a stop are
// removed by the next start's trash (in the background as well).
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

namespace sluice::objstore::detail {

class trash {
 public:
  // dir: the trash folder (created if missing; on the same file system as the
  // folders given to discard()). What it holds already is queued for removal.
  explicit trash(std::string dir);
  // Stops after the removal in progress; what is still queued stays in the
  // folder for the next start.
  ~trash();
  trash(const trash&) = delete;
  trash& operator=(const trash&) = delete;

  // Moves path (a folder or a file) out of the way and queues its removal.
  // Removes it at once when it can't be moved (another file system) or when
  // the queue is full (removals lagging far behind: the caller waits, as
  // before). A missing path is not an error.
  void discard(const std::string& path);

  // Waits until everything queued so far has been removed (tests, shutdown of
  // benchmarks). Returns at once when stopped.
  void drain();

  // Entries queued and not yet removed.
  size_t pending() const;

 private:
  void loop();

  static constexpr size_t kMaxQueued = 4096;

  std::string dir_;
  mutable std::mutex mu_;
  std::condition_variable cv_, idle_cv_;
  std::deque<std::string> queue_;
  bool busy_ = false;
  bool stop_ = false;
  std::thread thread_;  // last: started once the rest is in place
};

}  // namespace sluice::objstore::detail
