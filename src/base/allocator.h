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
// top instead of returning it.
//
// Setting M_TOP_PAD also turns off glibc's sliding mmap threshold (which
// otherwise rises to the size of freed mapped blocks, up to 32 MiB) and leaves
// it at 128 KiB: every larger block — a Kafka produce request of librdkafka's
// up-to-1 MiB batches, its copy — would be a fresh mapping, faulted in page by
// page and unmapped after use. So the threshold is set to that 32 MiB
// maximum: at full speed the Kafka API took 216-228 MB/s instead of 129-134
// (docs/BENCHMARKS.md, 2026-11-24 13:45). `glibc.malloc.top_pad` or
// `glibc.malloc.mmap_threshold` in GLIBC_TUNABLES take precedence (the
// respective setting is then left alone).
void grow_heaps_in_large_steps();

}  // namespace sluice
