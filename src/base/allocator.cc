#include "base/allocator.h"

#include <malloc.h>

#include <cstdlib>
#include <cstring>

namespace sluice {

void grow_heaps_in_large_steps() {
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if (tunables != nullptr && std::strstr(tunables, "top_pad") != nullptr) return;
  (void)::mallopt(M_TOP_PAD, 64 << 20);
}

}  // namespace sluice
