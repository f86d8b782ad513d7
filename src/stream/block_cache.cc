#include "stream/block_cache.h"

namespace sluice::stream {

block_cache::block_cache(size_t capacity_bytes, size_t max_indexes)
    : capacity_(capacity_bytes), max_indexes_(max_indexes) {}

block_records block_cache::get_block(object_id obj, uint64_t position) {
  std::lock_guard lk(mu_);
  auto it = map_.find(key{obj.value(), position});
  if (it == map_.end()) {
    ++misses_;
    return nullptr;
  }
  ++hits_;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->records;
}

void block_cache::put_block(object_id obj, uint64_t position, block_records records,
                            std::shared_ptr<const byte_owner> buffer) {
  std::list<entry> evicted;  // destroyed after mu_ is released (frees buffers)
  std::lock_guard lk(mu_);
  key k{obj.value(), position};
  if (auto it = map_.find(k); it != map_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second);
    return;
  }
  if (buffer_refs_[buffer.get()]++ == 0) bytes_ += buffer->size();
  lru_.push_front(entry{k, std::move(records), std::move(buffer)});
  map_[k] = lru_.begin();
  while (bytes_ > capacity_ && lru_.size() > 1) {
    release(lru_.back());
    map_.erase(lru_.back().k);
    evicted.splice(evicted.begin(), lru_, std::prev(lru_.end()));
  }
}

void block_cache::release(const entry& e) {
  auto it = buffer_refs_.find(e.buffer.get());
  if (--it->second == 0) {
    bytes_ -= e.buffer->size();
    buffer_refs_.erase(it);
  }
}

object_index block_cache::get_index(object_id obj) {
  std::lock_guard lk(mu_);
  auto it = index_map_.find(obj.value());
  if (it == index_map_.end()) return nullptr;
  index_lru_.splice(index_lru_.begin(), index_lru_, it->second);
  return it->second->second;
}

void block_cache::put_index(object_id obj, object_index index) {
  std::lock_guard lk(mu_);
  if (index_map_.contains(obj.value())) return;
  index_lru_.emplace_front(obj.value(), std::move(index));
  index_map_[obj.value()] = index_lru_.begin();
  while (index_lru_.size() > max_indexes_) {
    index_map_.erase(index_lru_.back().first);
    index_lru_.pop_back();
  }
}

uint64_t block_cache::hits() const {
  std::lock_guard lk(mu_);
  return hits_;
}
uint64_t block_cache::misses() const {
  std::lock_guard lk(mu_);
  return misses_;
}
size_t block_cache::bytes() const {
  std::lock_guard lk(mu_);
  return bytes_;
}

}  // namespace sluice::stream
