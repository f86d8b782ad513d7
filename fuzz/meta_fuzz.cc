// Fuzzes the decoder of the on-disk object metadata file (.sluice.meta).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "objstore/meta_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto m = sluice::objstore::decode_meta(std::string_view(reinterpret_cast<const char*>(data), size));
  if (m) (void)sluice::objstore::encode_meta(m.value());
  return 0;
}
