#pragma once
// Names the calling thread as `top -H`, `ps -L`, perf and gdb show it
// (Linux keeps at most 15 bytes; longer names are cut).
#include <string_view>

namespace sluice {

void set_thread_name(std::string_view name);

}  // namespace sluice
