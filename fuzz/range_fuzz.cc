// Fuzzes the Range header parser; checks that a satisfiable range lies inside the object.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "s3/range.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 8) return 0;
  uint64_t object_size = 0;
  std::memcpy(&object_size, data, 8);
  object_size %= (1ull << 50);
  std::string_view header(reinterpret_cast<const char*>(data + 8), size - 8);
  auto r = sluice::s3::parse_range(header, object_size);
  if (r.k == sluice::s3::range_result::kind::satisfiable) {
    if (r.length == 0 || r.offset + r.length > object_size) std::abort();
  }
  return 0;
}
