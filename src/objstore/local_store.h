#pragma once
// local_store: the object layer on one local drive folder. Layout and
// durability are documented in docs/STORAGE_FORMAT.md. Erasure-coded drive
// sets will implement object_layer over several drives with the same
// per-object metadata model (meta_file.h).
#include <memory>
#include <string>

#include "objstore/object_layer.h"

namespace sluice::objstore {

struct local_store_options {
  std::string root;                 // drive folder; created when missing
  uint64_t inline_threshold = 128 * 1024;  // objects up to this size live inside their metadata file
  uint64_t max_object_size = 5ull << 40;
  // Bodies declared at least this large (and bodies of unknown size) are
  // written with direct I/O; smaller ones go through the page cache, their
  // writeback started as each chunk is written, and are flushed at the end
  // like the others. See docs/STORAGE_FORMAT.md, "Durability".
  uint64_t direct_io_min = 32ull << 20;
};

// Opens (formatting when empty) a drive folder and cleans leftovers of
// interrupted writes from its staging area.
result<std::unique_ptr<object_layer>> open_local_store(const local_store_options& opts);

}  // namespace sluice::objstore
