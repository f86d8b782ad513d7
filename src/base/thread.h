#pragma once
// Threads with names: `top -H`, `ps -L`, perf and gdb show them (Linux keeps
// at most 15 bytes of a name; longer names are cut).
#include <string>
#include <string_view>
#include <thread>
#include <utility>

namespace sluice {

void set_thread_name(std::string_view name);

// Starts a thread that names itself, then runs f.
template <class F>
std::thread named_thread(std::string name, F&& f) {
  return std::thread([name = std::move(name), f = std::forward<F>(f)]() mutable {
    set_thread_name(name);
    f();
  });
}

// Lowers the calling thread's CPU priority (nice 10) for background work —
// uploads, compaction, retention — so that on a busy machine the threads that
// acknowledge requests (WAL, network) are scheduled first. Threads it starts
// inherit it.
void lower_thread_priority();

}  // namespace sluice
