#pragma once
// Caches for reads from objects: decoded data blocks (LRU, bounded in bytes)
// and parsed object indexes (LRU, bounded in entries). Thread-safe.
//
// A block's records are views into the buffer its GET brought in, and one GET
// may bring several blocks. The cache charges each buffer once, for its whole
// size, while any of its blocks is cached: the bound is on memory kept alive,
// not on the sum of block sizes.
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "stream/format/object_format.h"
#include "stream/types.h"

namespace sluice::stream {

using record_ptr = std::shared_ptr<const record>;
using block_records = std::shared_ptr<const std::vector<record_ptr>>;
using object_index = std::shared_ptr<const std::vector<format::block_entry>>;

class block_cache {
 public:
  block_cache(size_t capacity_bytes, size_t max_indexes = 4096);

  block_records get_block(object_id obj, uint64_t position);
  // `buffer`: what the records' payloads lie in (charged once for all its blocks).
  void put_block(object_id obj, uint64_t position, block_records records,
                 std::shared_ptr<const byte_owner> buffer);

  object_index get_index(object_id obj);
  void put_index(object_id obj, object_index index);

  uint64_t hits() const;
  uint64_t misses() const;
  size_t bytes() const;

 private:
  struct key {
    uint64_t obj;
    uint64_t pos;
    bool operator==(const key&) const = default;
  };
  struct key_hash {
    size_t operator()(const key& k) const {
      return std::hash<uint64_t>{}(k.obj * 0x9e3779b97f4a7c15ull ^ k.pos);
    }
  };
  struct entry {
    key k;
    block_records records;
    std::shared_ptr<const byte_owner> buffer;
  };
  void release(const entry& e);  // mu_ held

  mutable std::mutex mu_;
  size_t capacity_;
  size_t bytes_ = 0;
  std::list<entry> lru_;  // front = most recent
  std::unordered_map<key, std::list<entry>::iterator, key_hash> map_;
  std::unordered_map<const byte_owner*, size_t> buffer_refs_;  // cached blocks per buffer
  size_t max_indexes_;
  std::list<std::pair<uint64_t, object_index>> index_lru_;
  std::unordered_map<uint64_t, std::list<std::pair<uint64_t, object_index>>::iterator> index_map_;
  uint64_t hits_ = 0, misses_ = 0;
};

}  // namespace sluice::stream
