#include "base/byte_arena.h"

#include <cstring>
#include <mutex>
#include <vector>

namespace sluice {

namespace {

class chunk_pool {
 public:
  static chunk_pool& instance() {
    static auto* pool = new chunk_pool;  // never destroyed: chunks may be freed after static destructors
    return *pool;
  }

  // A chunk of kChunkBytes that returns to the pool when its last holder lets go.
  std::shared_ptr<std::string> take() {
    std::unique_ptr<std::string> s;
    {
      std::lock_guard lk(mu_);
      if (!free_.empty()) {
        s = std::move(free_.back());
        free_.pop_back();
      }
    }
    if (!s) s = std::make_unique<std::string>(byte_arena::kChunkBytes, '\0');
    return std::shared_ptr<std::string>(s.release(),
                                        [this](std::string* p) { give(std::unique_ptr<std::string>(p)); });
  }

  size_t size() {
    std::lock_guard lk(mu_);
    return free_.size();
  }

 private:
  void give(std::unique_ptr<std::string> s) {
    std::lock_guard lk(mu_);
    if (free_.size() < byte_arena::kPoolChunks) free_.push_back(std::move(s));
  }

  std::mutex mu_;
  std::vector<std::unique_ptr<std::string>> free_;
};

}  // namespace

unique_bytes byte_arena::copy(std::string_view bytes) {
  if (bytes.empty() || bytes.size() > kMaxRunBytes) return unique_bytes(std::string(bytes));
  if (!chunk_ || used_ + bytes.size() > chunk_->size()) {
    chunk_ = chunk_pool::instance().take();
    used_ = 0;
  }
  char* at = chunk_->data() + used_;
  std::memcpy(at, bytes.data(), bytes.size());
  used_ += (bytes.size() + 7) & ~size_t{7};  // the next run starts 8-byte aligned
  return unique_bytes(chunk_, at, bytes.size());
}

size_t byte_arena::pooled_chunks() {
  return chunk_pool::instance().size();
}

}  // namespace sluice
