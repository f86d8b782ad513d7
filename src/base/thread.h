#pragma once
// Names the calling thread as `top -H`, `ps -L`, perf and gdb show it
// (Linux keeps at most 15 bytes; longer names are cut).
#include <string_view>

namespace sluice {

void set_thread_name(std::string_view name);

// Lowers the calling thread's CPU priority (nice 10) for background work —
// uploads, compaction, retention — so that on a busy machine the threads that
// acknowledge requests (WAL, network) are scheduled first. Threads it starts
// inherit it.
void lower_thread_priority();

}  // namespace sluice
