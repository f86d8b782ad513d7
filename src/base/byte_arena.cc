#include "base/byte_arena.h"

#include <cstring>

#include "base/free_list.h"

namespace sluice {

namespace {

// The chunks, pooled; never destroyed: chunks may be freed after static destructors.
free_list<std::unique_ptr<std::string>>& pool() {
  static auto* chunks = new free_list<std::unique_ptr<std::string>>(byte_arena::kPoolChunks);
  return *chunks;
}

// A chunk of kChunkBytes that returns to the pool when its last holder lets go.
std::shared_ptr<std::string> take_chunk() {
  auto s = pool().take().value_or(nullptr);
  if (!s) s = std::make_unique<std::string>(byte_arena::kChunkBytes, '\0');
  return std::shared_ptr<std::string>(s.release(),
                                      [](std::string* p) { pool().give(std::unique_ptr<std::string>(p)); });
}

}  // namespace

unique_bytes byte_arena::copy(std::string_view bytes) {
  if (bytes.empty() || bytes.size() > kMaxRunBytes) return unique_bytes(std::string(bytes));
  if (!chunk_ || used_ + bytes.size() > chunk_->size()) {
    chunk_ = take_chunk();
    used_ = 0;
  }
  char* at = chunk_->data() + used_;
  std::memcpy(at, bytes.data(), bytes.size());
  used_ += (bytes.size() + 7) & ~size_t{7};  // the next run starts 8-byte aligned
  return unique_bytes(chunk_, at, bytes.size());
}

size_t byte_arena::pooled_chunks() {
  return pool().size();
}

}  // namespace sluice
