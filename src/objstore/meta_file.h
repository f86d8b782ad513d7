#pragma once
// The per-object metadata file (".sluice.meta"): every version of one key,
// with small objects' bytes inline. Format (docs/STORAGE_FORMAT.md):
//   8 bytes magic "SLMETA\0\1" | u32 LE json length | json | inline bytes
// json = {"format":1,"versions":[version...]} newest first.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "objstore/object_layer.h"

namespace sluice::objstore {

struct stored_version {
  object_info info;        // bucket/key filled by the caller
  std::string data_dir;    // "" for inline or empty objects
  bool inline_data = false;
  uint64_t inline_offset = 0;  // into the inline area
};

struct meta_file {
  std::vector<stored_version> versions;  // newest first
  std::string inline_area;
};

std::string encode_meta(const meta_file& m);
result<meta_file> decode_meta(std::string_view bytes);

}  // namespace sluice::objstore
