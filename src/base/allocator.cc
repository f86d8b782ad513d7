#include "base/allocator.h"

#include <malloc.h>

#include <cstdlib>
#include <cstring>

namespace sluice {

void grow_heaps_in_large_steps() {
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  auto tuned = [&](const char* name) {
    return tunables != nullptr && std::strstr(tunables, name) != nullptr;
  };
  if (!tuned("top_pad")) (void)::mallopt(M_TOP_PAD, 64 << 20);
  if (!tuned("mmap_threshold")) (void)::mallopt(M_MMAP_THRESHOLD, 32 << 20);
}

}  // namespace sluice
