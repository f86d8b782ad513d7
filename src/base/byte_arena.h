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
#include <stop_token>
#include <string>
#include <string_view>

#include "base/shared_bytes.h"

namespace sluice {

class arena_chunk;  // byte_arena.cc

class byte_arena {
 public:
  // One huge page (base/page_memory.h).
  static constexpr size_t kChunkBytes = size_t{2} << 20;
  // Runs above this get a buffer of their own: a chunk holds at least 8.
  static constexpr size_t kMaxRunBytes = kChunkBytes / 8;
  // Free chunks the pool keeps (64 MiB: the stream engine's default upload
  // size, the memory one eviction gives back); the rest are unmapped.
  static constexpr size_t kPoolChunks = (size_t{64} << 20) / kChunkBytes;
  // Pre-faulted chunks a server keeps ready (keep_ready): 16 MiB.
  static constexpr size_t kReadyChunks = 8;

  byte_arena() = default;
  byte_arena(const byte_arena&) = delete;
  byte_arena& operator=(const byte_arena&) = delete;

  // A copy of `bytes` that its holder may still change (unique_bytes).
  unique_bytes copy(std::string_view bytes);

  // Runs until `stop` is requested, keeping at least `ready` chunks whose
  // pages are faulted in free in the process-wide pool (making more whenever
  // takes bring it below that), and lets the pool keep up to `keep_bytes` of
  // freed chunks (at least kPoolChunks) from now on. For a server's
  // background thread, with `keep_bytes` = what its log cache holds: the
  // first touch of fresh memory costs a page fault per 4 KiB page, and on
  // the VMs Sluice is measured on a fresh 2 MiB chunk took 5–11 ms to fill,
  // a stall of the produce request that took it (base/page_memory.h); a
  // ready or pooled chunk costs nothing.
  static void keep_ready(size_t ready, size_t keep_bytes, std::stop_token stop);

  // Free chunks in the process-wide pool (tests).
  static size_t pooled_chunks();

 private:
  std::shared_ptr<arena_chunk> chunk_;  // the chunk runs are cut from
  size_t used_ = 0;
};

}  // namespace sluice
