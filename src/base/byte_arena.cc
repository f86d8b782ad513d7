#include "base/byte_arena.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <mutex>

#include "base/free_list.h"
#include "base/page_memory.h"

namespace sluice {

// A chunk's memory: mapped for huge pages (base/page_memory.h), never
// zero-filled by us (fresh pages are faulted in as runs are copied in).
class arena_chunk final : public byte_owner {
 public:
  arena_chunk() : mem_(byte_arena::kChunkBytes) {}
  const char* data() const override { return mem_.data(); }
  size_t size() const override { return mem_.size(); }
  char* writable() { return mem_.data(); }
  void prefault() { mem_.prefault(); }

 private:
  page_memory mem_;
};

namespace {

struct chunk_pool {
  free_list<std::unique_ptr<arena_chunk>> free{byte_arena::kPoolChunks};
  std::atomic<size_t> ready{0};  // keep_ready's mark; 0 while none runs
  std::mutex mu;
  std::condition_variable_any low;  // a take left fewer than `ready` free chunks
};

// Never destroyed: chunks may be freed after static destructors.
chunk_pool& pool() {
  static auto* p = new chunk_pool;
  return *p;
}

// A chunk that returns to the pool when its last holder lets go.
std::shared_ptr<arena_chunk> take_chunk() {
  auto& p = pool();
  auto c = p.free.take().value_or(nullptr);
  if (!c) c = std::make_unique<arena_chunk>();
  if (const size_t ready = p.ready.load(std::memory_order_relaxed); ready > 0 && p.free.size() < ready) {
    std::lock_guard lk(p.mu);
    p.low.notify_one();
  }
  return std::shared_ptr<arena_chunk>(
      c.release(), [](arena_chunk* q) { pool().free.give(std::unique_ptr<arena_chunk>(q)); });
}

}  // namespace

unique_bytes byte_arena::copy(std::string_view bytes) {
  if (bytes.empty() || bytes.size() > kMaxRunBytes) return unique_bytes(std::string(bytes));
  if (!chunk_ || used_ + bytes.size() > chunk_->size()) {
    chunk_ = take_chunk();
    used_ = 0;
  }
  char* at = chunk_->writable() + used_;
  std::memcpy(at, bytes.data(), bytes.size());
  used_ += (bytes.size() + 7) & ~size_t{7};  // the next run starts 8-byte aligned
  return unique_bytes(chunk_, at, bytes.size());
}

void byte_arena::keep_ready(size_t ready, size_t keep_bytes, std::stop_token stop) {
  auto& p = pool();
  p.free.keep_at_least(std::max(ready, (keep_bytes + kChunkBytes - 1) / kChunkBytes));
  p.ready.store(ready);
  std::unique_lock lk(p.mu);
  // Wakes when a take left the pool short (or at once when it is); false on stop.
  while (p.low.wait(lk, stop, [&] { return p.free.size() < ready; })) {
    lk.unlock();
    auto c = std::make_unique<arena_chunk>();
    c->prefault();
    p.free.give(std::move(c));
    lk.lock();
  }
  p.ready.store(0);
}

size_t byte_arena::pooled_chunks() {
  return pool().free.size();
}

}  // namespace sluice
