#pragma once
// The per-object metadata file (".sluice.meta"): every version of one key,
// with small objects' bytes inline. Format (docs/STORAGE_FORMAT.md):
//   8 bytes magic "SLMETA\0\1" | u32 LE json length | json | inline bytes
// json = {"format":1,"versions":[version...]} newest first.
// The single-drive store keeps these bytes in a slot file
// (internal/slot_file.h), replaced in place; decode_meta takes either.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "objstore/object_layer.h"

namespace sluice::objstore {

// Erasure coding of one version (format 2 drives; absent on single-drive
// versions and on delete markers). The same on every drive of the set except
// `index`, the shard this drive's copy holds.
struct erasure_info {
  int data = 0;     // k
  int parity = 0;   // m
  uint64_t block_size = 0;
  int index = -1;         // 0-based shard index on this drive (data shards first)
  std::vector<int> dist;  // dist[d] = shard index on drive d of the set
  std::string bitrot;     // bitrot framing algorithm of the shard files
  friend bool operator==(const erasure_info&, const erasure_info&) = default;
};

struct stored_version {
  object_info info;        // bucket/key filled by the caller
  std::string data_dir;    // "" for inline or empty objects
  bool inline_data = false;
  uint64_t inline_offset = 0;  // into the inline area
  std::optional<erasure_info> ec;
  // Inline bytes of an erasure-coded version: this drive's shard file, not the
  // object (so their length is not info.size).
  uint64_t inline_length = 0;
  uint64_t inline_size() const { return ec ? inline_length : info.size; }
};

struct meta_file {
  std::vector<stored_version> versions;  // newest first
  std::string inline_area;
};

std::string encode_meta(const meta_file& m);
result<meta_file> decode_meta(std::string_view bytes);

}  // namespace sluice::objstore
