// Fuzzes the decoders of the on-disk object metadata file (.sluice.meta):
// the slot container (objstore/internal/slot_file.h) and the metadata in it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "objstore/internal/slot_file.h"
#include "objstore/meta_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace detail = sluice::objstore::detail;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  auto m = sluice::objstore::decode_meta(in);
  if (m) (void)sluice::objstore::encode_meta(m.value());
  // The bytes behind a slot file's magic reach the slot parser's checks.
  (void)detail::newest_slot(std::string("SLSLOT\0\1", 8) + std::string(in));
  // As the payload of a valid slot, they come back unchanged, and the
  // metadata decoder sees them through the container.
  const std::string file = detail::new_slot_file(in);
  auto slot = detail::newest_slot(file);
  if (!slot || slot->payload != in || slot->generation != 1 || slot->index != 0) std::abort();
  (void)sluice::objstore::decode_meta(file);
  return 0;
}
