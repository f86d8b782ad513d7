#pragma once
// How drives form erasure sets and where an object goes, following MinIO's
// rules (sources cited at each function; MinIO at commit 7aac2a2, Feb 2026).
// Everything here is a pure function of its arguments: placement is stable
// across restarts as long as the deployment id and the drive list are.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "objstore/erasure/errc.h"

namespace sluice::objstore::erasure {

// Random 16 bytes chosen when a deployment is formatted (a UUID), stored in
// every drive's format file; keys the set placement hash.
using deployment_id = std::array<uint8_t, 16>;

// Default parity for a set of n drives: 1 -> 0, 2-3 -> 1, 4-5 -> 2, 6-7 -> 3,
// 8+ -> 4 (DefaultParityBlocks, internal/config/storageclass/storage-class.go).
int default_parity(int set_drive_count);

// A parity is allowed for a set of n drives when 0 <= parity < n and, for
// n > 2, parity <= n/2 (validateParity, same file); else errc::bad_parity.
result<void> validate_parity(int parity, int set_drive_count);

struct set_geometry {
  int set_count = 0;
  int drives_per_set = 0;
  friend bool operator==(const set_geometry&, const set_geometry&) = default;
};

// Splits a pool of drives into equal sets: one drive is one set of 1
// (single-drive mode); otherwise the largest size in 2..16 that divides the
// drive count (24 -> 2x12, 18 -> 2x9, 32 -> 2x16), errc::bad_drive_count if
// none does (e.g. 17). From getSetIndexes / commonSetDriveCount in
// cmd/endpoint-ellipses.go. MinIO further restricts sizes to ones symmetric
// with the ellipsis ranges of the command line; not done here.
result<set_geometry> choose_sets(int total_drives);

// Expands MinIO's ellipsis syntax: "/data{1...4}" -> /data1../data4; several
// ellipses give the cross product with the LEFTMOST varying fastest, as in
// MinIO (so "http://host{1...4}/disk{1...4}" lists host1..host4 for disk1
// first, and consecutive drives — one set — span hosts). A range written
// with a leading zero ("{01...16}", or "{1...016}") is zero-padded to the
// width of its end. An argument without braces expands to itself.
// Errors (errc::bad_ellipsis): unbalanced or nested braces, a brace group that
// is not {N...M} with decimal N <= M, or more than 65536 results.
// Source: ellipses.FindEllipsesPatterns in github.com/minio/pkg/ellipses.
result<std::vector<std::string>> expand_ellipsis(std::string_view pattern);

// The set (0 <= set < set_count) holding bucket/key: SipHash-2-4 keyed with
// the deployment id (k0, k1 = its two little-endian halves) of "bucket/key",
// mod set_count. MinIO (sipHashMod in cmd/erasure-sets.go) hashes the key
// alone; Sluice adds the bucket so that the same key layout in many buckets
// does not land on one set. set_count >= 1 is a precondition.
int set_for_key(std::string_view bucket, std::string_view key, int set_count, const deployment_id& id);

// Distribution of an object's n shards over the n drives of its set:
// result[d] is the shard index (0-based, data shards first) stored on drive d.
// A rotation starting after crc32(key) % n, so parity load spreads over all
// drives (hashOrder in cmd/erasure-metadata-utils.go, which is 1-based; MinIO
// passes the object name). Empty for n <= 0.
std::vector<int> shard_order(std::string_view key, int n);

// Drives that must answer for a read / acknowledge a write of an object with
// k data and m parity shards (cmd/erasure-object.go putObject and
// objectQuorumFromMeta in cmd/erasure-metadata.go): read = k; write = k, or
// k+1 when k == m so that two writes cannot both reach quorum on disjoint
// halves of the set.
inline int read_quorum(int data_shards, int /*parity_shards*/) {
  return data_shards;
}
inline int write_quorum(int data_shards, int parity_shards) {
  return data_shards == parity_shards ? data_shards + 1 : data_shards;
}

}  // namespace sluice::objstore::erasure
