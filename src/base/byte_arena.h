#pragma once
// byte_arena: copies small runs of bytes (request-sized: Kafka record
// batches) into large chunks, handing each out as unique_bytes that keep
// their chunk alive. A chunk goes back to a process-wide pool when its last
// run is freed and is used again as it is (its pages stay mapped).
//
// Why: the stream engine's log cache holds every appended batch until an
// upload has taken it and the cache is over its bound, then frees an upload's
// worth at once. With one heap allocation per ~3 KiB batch, the produce
// handler's copy was most of the Kafka server's page faults and malloc time
// while the cache filled; with pooled chunks the server used ~17% less CPU in
// that phase (docs/BENCHMARKS.md, "Kafka API", 2026-11-24 13:00).
//
// Threading: an arena is used by one thread at a time (e.g. one per
// connection thread); the runs it hands out may be read and freed anywhere.
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "base/shared_bytes.h"

namespace sluice {

class byte_arena {
 public:
  static constexpr size_t kChunkBytes = 1 << 20;
  // Runs above this get a buffer of their own: a chunk holds at least 8.
  static constexpr size_t kMaxRunBytes = kChunkBytes / 8;
  // Free chunks the pool keeps (64 MiB: the stream engine's default upload
  // size, the memory one eviction gives back); the rest are freed.
  static constexpr size_t kPoolChunks = 64;

  byte_arena() = default;
  byte_arena(const byte_arena&) = delete;
  byte_arena& operator=(const byte_arena&) = delete;

  // A copy of `bytes` that its holder may still change (unique_bytes).
  unique_bytes copy(std::string_view bytes);

  // Free chunks in the process-wide pool (tests).
  static size_t pooled_chunks();

 private:
  std::shared_ptr<std::string> chunk_;  // the chunk runs are cut from
  size_t used_ = 0;
};

}  // namespace sluice
