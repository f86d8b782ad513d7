#pragma once
// Process-wide allocator settings for the server (and the benchmarks that
// embed its engines, so they measure what the server runs).

namespace sluice {

// Makes glibc grow a heap in steps of 64 MiB instead of the 128 KiB default
// (M_TOP_PAD). The stream engine's log cache fills with request-sized
// allocations at the ingest rate until it reaches its bound; with small steps
// the allocating thread extends its arena's heap every few hundred requests
// while holding that arena's lock, and the WAL's completion thread, which
// frees into the same arena, waits for it. Measured on the 2-vCPU VM of
// docs/BENCHMARKS.md ("Kafka API", fresh server at 50 MB/s): WAL completion
// batches took 0.9-1.0 ms on average while the cache filled, 0.58-0.75 ms with
// 64 MiB steps. Each arena then also keeps up to 64 MiB of free memory at its
// top instead of returning it. A `glibc.malloc.top_pad` in GLIBC_TUNABLES
// takes precedence (this then does nothing).
void grow_heaps_in_large_steps();

}  // namespace sluice
