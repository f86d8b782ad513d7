#pragma once
// erasure_store: the object layer over several drive folders grouped into
// erasure sets (docs/STORAGE_FORMAT.md, "format version 2"). Every object
// lives on one set (layout.h: set_for_key); each of the set's n drives holds
// the object's metadata file and one Reed-Solomon shard (k data + m parity),
// framed with per-block bitrot checksums (bitrot.h).
//
// Quorums (layout.h): a write succeeds when write_quorum(k, m) drives of the
// set committed it, else it is rolled back and fails with errc::write_quorum;
// a read needs k drives agreeing on the version and k good shards for every
// block it serves, else errc::read_quorum. A shard that is missing or fails
// its checksum is never served: the block is rebuilt from the others and the
// object is queued for healing.
//
// Threads: every object_layer method may be called concurrently (writes to
// one key are serialised by a process-wide lock per key). The store owns one
// background thread (heal queue, drive checks) and a small I/O pool; stop()
// (also run by the destructor) drains and joins them.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "objstore/object_layer.h"

namespace sluice::objstore {

struct erasure_store_options {
  std::vector<std::string> drives;  // drive folders, in set order (already ellipsis-expanded)
  int parity = -1;                  // parity per set; -1 = default_parity(drives per set)
  uint64_t block_size = 1ull << 20;
  uint64_t inline_threshold = 128 * 1024;  // objects up to this size keep their shards in the metadata files
  uint64_t max_object_size = 5ull << 40;
  // How often the background thread retries offline drives; 0 = only when check_drives() is called.
  std::chrono::milliseconds drive_check_interval{5000};
  size_t heal_queue_limit = 10000;  // objects waiting for heal-on-read; more are dropped (a scan finds them)
  bool background = true;           // false: no heal thread (tests drive healing by hand)
};

class erasure_store : public object_layer {
 public:
  // Rewrites missing or corrupt shards and metadata of every version of
  // bucket/key from the good drives; removes copies of versions that no
  // longer have quorum (leftovers of failed writes). Holds the key's lock.
  virtual result<heal_result> heal_object(const std::string& bucket, const std::string& key) = 0;
  // Heals bucket metadata on every drive, then every object under prefix
  // ("" = whole bucket; bucket "" = every bucket).
  virtual result<heal_result> heal_bucket(const std::string& bucket, const std::string& prefix) = 0;
  // Probes every drive now: offline drives that answer again come online; an
  // empty folder in place of a formatted drive is formatted and fully healed
  // (synchronously when no background thread runs).
  virtual void check_drives() = 0;
  // Objects waiting in the heal-on-read queue.
  virtual size_t heal_backlog() = 0;
  // Stops the background thread; idempotent.
  virtual void stop() = 0;
};

// Opens the drives, formatting empty ones (a new deployment when none is
// formatted). Fails when drives belong to different deployments or sit in a
// different order than formatted, or when fewer than half the drives can be
// read. Cleans each drive's staging area (leftovers of interrupted writes).
result<std::unique_ptr<erasure_store>> open_erasure_store(const erasure_store_options& opts);

}  // namespace sluice::objstore
