#pragma once
// Errors of the erasure module (codec, bitrot framing, set layout).
#include <system_error>

#include "base/errc.h"

namespace sluice::objstore::erasure {

enum class errc {
  bad_geometry = 1,  // data/parity shard counts out of range
  bad_argument,      // shard buffers of the wrong number or size, misuse of a writer
  too_few_shards,    // fewer than data_shards shards survive: the block is lost
  bitrot_mismatch,   // a shard block's checksum does not match its bytes
  truncated_shard,   // a shard file ends before the block being read
  bad_ellipsis,      // malformed {N...M} drive pattern
  bad_drive_count,   // drive count that cannot be split into erasure sets
  bad_parity,        // parity not allowed for the set size
};
const std::error_category& category();
inline std::error_code make_error_code(errc e) { return {static_cast<int>(e), category()}; }

}  // namespace sluice::objstore::erasure

SLUICE_ERRC_ENUM(sluice::objstore::erasure::errc)
