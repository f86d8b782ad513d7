#include "objstore/internal/trash.h"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstdio>

#include "base/crypto.h"
#include "base/fs.h"
#include "base/thread.h"

namespace sluice::objstore::detail {

trash::trash(std::string dir) : dir_(std::move(dir)) {
  if (auto r = fs::mkdirs(dir_); !r) spdlog::warn("trash folder {}: {}", dir_, r.error().message());
  if (auto entries = fs::list_dir(dir_)) {
    for (const auto& e : entries.value()) queue_.push_back(fs::join(dir_, e.name));
    if (!queue_.empty()) spdlog::info("removing {} leftovers in {}", queue_.size(), dir_);
  }
  thread_ = named_thread("trash", [this] { loop(); });
}

trash::~trash() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  idle_cv_.notify_all();
  thread_.join();
}

void trash::discard(const std::string& path) {
  bool room;
  {
    std::lock_guard lk(mu_);
    room = !stop_ && queue_.size() < kMaxQueued;
  }
  if (room) {
    std::string target = fs::join(dir_, uuid_v4());
    if (::rename(path.c_str(), target.c_str()) == 0) {
      std::lock_guard lk(mu_);
      queue_.push_back(std::move(target));  // if stopped meanwhile, the next start removes it
      cv_.notify_one();
      return;
    }
    // ENOENT: path is gone (nothing to do), or the trash folder is (removed
    // under a running server): then the path goes at once, as below.
    if (errno == ENOENT && !fs::exists(path)) return;
  }
  (void)fs::remove_all(path);
}

void trash::drain() {
  std::unique_lock lk(mu_);
  idle_cv_.wait(lk, [&] { return stop_ || (queue_.empty() && !busy_); });
}

size_t trash::pending() const {
  std::lock_guard lk(mu_);
  return queue_.size() + (busy_ ? 1 : 0);
}

void trash::loop() {
  lower_thread_priority();  // background work: requests come first
  std::unique_lock lk(mu_);
  for (;;) {
    cv_.wait(lk, [&] { return stop_ || !queue_.empty(); });
    if (stop_) return;
    std::string path = std::move(queue_.front());
    queue_.pop_front();
    busy_ = true;
    lk.unlock();
    if (auto r = fs::remove_all(path); !r) spdlog::warn("trash: removing {}: {}", path, r.error().message());
    lk.lock();
    busy_ = false;
    if (queue_.empty()) idle_cv_.notify_all();
  }
}

}  // namespace sluice::objstore::detail
