#pragma once
// The object layer: buckets, objects, multipart uploads, listing. The S3 front
// end talks only to this interface; behind it sits a drive set (today one
// local drive: local_store; erasure-coded sets plug in behind the same API).
//
// Thread safety: every method may be called from any thread concurrently.
// Writes to one key are serialised inside the layer; readers never see a
// partial object (a version becomes visible by an atomic metadata rename).
// Durability: when put_object/complete_multipart/delete_object/copy return
// success, the change is on stable storage (see docs/STORAGE_FORMAT.md).
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/errc.h"
#include "base/result.h"
#include "base/source.h"
#include "base/time.h"

namespace sluice::objstore {

enum class errc {
  bucket_not_found = 1,
  bucket_exists,
  bucket_not_empty,
  invalid_bucket_name,
  object_not_found,
  version_not_found,
  invalid_object_name,
  object_too_large,
  upload_not_found,
  invalid_part,
  invalid_part_order,
  entity_too_small,
  invalid_range,
  method_not_allowed,  // e.g. GET of a delete marker version
  io_error,
  corrupt,  // metadata or data failed validation
  bad_argument,
  too_many_uploads,
  read_quorum,       // too few drives agree on / hold good data for the object: nothing served (retryable)
  write_quorum,      // too few drives took a write: it was rolled back, nothing visible (retryable)
  not_implemented,   // the backend does not support the operation
  heal_in_progress,  // another heal sequence runs; wait for it (heal_status) and start again
};
const std::error_category& category();
inline std::error_code make_error_code(errc e) { return {static_cast<int>(e), category()}; }

// Metadata kept with an object: lower-case header names ("content-type",
// "cache-control", "x-amz-meta-foo", ...) mapped to values as received.
using metadata_map = std::map<std::string, std::string>;

struct bucket_info {
  std::string name;
  sys_time created;
  std::string owner;  // access key of the creating user
};

struct part_info {
  int number = 0;
  uint64_t size = 0;
  std::string etag;  // hex md5, no quotes
  sys_time mod_time;
  std::map<std::string, std::string> checksums;  // "CRC32" -> base64
};

struct object_info {
  std::string bucket;
  std::string key;
  std::string version_id;  // "" on unversioned buckets
  bool delete_marker = false;
  bool is_latest = true;
  uint64_t size = 0;
  std::string etag;  // no quotes; "md5hex" or "md5hex-N" for multipart
  sys_time mod_time;
  metadata_map metadata;
  std::string tags;  // URL-encoded query form "k1=v1&k2=v2" as in x-amz-tagging
  std::map<std::string, std::string> checksums;  // "CRC32" -> base64 (whole-object, or composite for multipart)
  std::vector<part_info> parts;                  // multipart objects: their parts in order
  std::string content_type() const {
    auto it = metadata.find("content-type");
    return it == metadata.end() ? std::string() : it->second;
  }
};

// Called after the body has been read completely and before the object is
// committed; it may add metadata (e.g. verified checksums) or fail the write.
using finalize_fn = std::function<result<void>(object_info&)>;

struct put_options {
  metadata_map metadata;
  std::string tags;
  std::optional<uint64_t> size;  // expected size when known; a mismatch fails the write
  finalize_fn finalize;
  std::string owner;
  // false: the ETag is an XXH3-128 of the body rather than its MD5, for
  // internal objects whose readers verify their own checksums (the stream
  // engine's); saves the MD5, the costliest step of a large PUT. S3 clients
  // reading such an object must not take its ETag for the content's MD5.
  bool md5_etag = true;
};

struct byte_range {
  uint64_t offset = 0;
  uint64_t length = 0;
};

struct get_options {
  std::string version_id;
  std::optional<byte_range> range;  // already resolved against the object size by the caller
  std::optional<int> part_number;
};

// A readable object: its metadata and a stream of the requested bytes.
class object_reader : public source {
 public:
  virtual const object_info& info() const = 0;
  // Narrows what read() returns to [offset, offset + length) of the object,
  // so a caller can decide the range after seeing info(). Call before reading.
  virtual result<void> set_range(uint64_t offset, uint64_t length) = 0;

  // Where the reader's next bytes lie in a plain file, for zero-copy sends
  // (sendfile): the next at most max_bytes of the range as one run of an
  // open file, advancing past them as read() would. nullopt: this reader's
  // bytes are not stored that way (inline, erasure-coded, verified per block)
  // and must be read(). The fd stays valid while the reader lives.
  struct file_span {
    int fd = -1;
    uint64_t offset = 0;
    uint64_t length = 0;
  };
  virtual result<std::optional<file_span>> next_file_span(uint64_t max_bytes) {
    (void)max_bytes;
    return std::optional<file_span>();
  }
};

struct list_options {
  std::string prefix;
  std::string delimiter;
  std::string marker;  // list keys strictly after this one
  int max_keys = 1000;
};

struct list_result {
  std::vector<object_info> objects;
  std::vector<std::string> common_prefixes;
  bool truncated = false;
  std::string next_marker;  // last key or prefix returned, when truncated
};

struct upload_info {
  std::string key;
  std::string upload_id;
  sys_time initiated;
  std::string owner;
};

struct list_uploads_options {
  std::string prefix;
  std::string delimiter;
  std::string key_marker;
  std::string upload_id_marker;
  int max_uploads = 1000;
};

struct list_uploads_result {
  std::vector<upload_info> uploads;
  std::vector<std::string> common_prefixes;
  bool truncated = false;
};

struct list_parts_result {
  std::vector<part_info> parts;
  bool truncated = false;
  int next_marker = 0;
  upload_info upload;
  metadata_map metadata;
};

struct completed_part {
  int number = 0;
  std::string etag;  // as the client sent it, quotes allowed
};

struct list_versions_options {
  std::string prefix;
  std::string delimiter;
  std::string key_marker;         // start after this key (or at it, after version_id_marker)
  std::string version_id_marker;  // with key_marker: versions of key_marker after this one ("null" = the null version)
  int max_keys = 1000;
};

// Versions newest first within a key; keys in order. Unversioned versions have
// version_id "" (S3: "null"); delete markers have delete_marker set.
struct list_versions_result {
  std::vector<object_info> versions;
  std::vector<std::string> common_prefixes;
  bool truncated = false;
  std::string next_key_marker;
  std::string next_version_id_marker;
};

// What one heal pass did (heal_object, heal_bucket, a heal sequence).
struct heal_result {
  uint64_t objects_scanned = 0;
  uint64_t objects_healed = 0;  // objects where at least one drive was rewritten
  uint64_t shards_written = 0;  // drive copies (metadata and shards of one version) rewritten
  uint64_t failed = 0;          // objects that could not be healed (too few good shards, I/O errors)
};

// A heal sequence: a background scan of a bucket/prefix (started by an
// admin) or of every bucket (after a drive was replaced by an empty folder).
struct heal_status {
  enum class state { none, running, done, failed, stopped };
  uint64_t id = 0;  // 1, 2, ... in start order since the server started; 0 = none ran yet
  state st = state::none;
  std::string reason;  // "admin", "drive replaced"
  std::string bucket;  // "" = every bucket
  std::string prefix;
  sys_time started{};
  sys_time finished{};  // set once no longer running
  heal_result counts;   // so far (running) or in total
  std::string error;    // why it failed
};
const char* to_string(heal_status::state s);

struct storage_info {
  struct drive {
    std::string path;
    bool online = true;
    bool healing = false;  // replaced by an empty folder and not fully healed yet
    int set = 0;           // erasure set the drive belongs to
    uint64_t total_bytes = 0;
    uint64_t free_bytes = 0;
  };
  std::vector<drive> drives;  // in the order given at start
  std::string deployment_id;  // fixed when the first drive was formatted
  std::string backend;        // "single-drive" or "erasure"
  int sets = 1;
  int drives_per_set = 1;
  int parity = 0;  // parity drives per set of the standard storage class (EC:parity)
  // Space of the file systems holding the drives, each file system counted
  // once (several drive folders on one disk do not multiply its space).
  uint64_t total_bytes = 0;
  uint64_t free_bytes = 0;
  size_t heal_backlog = 0;          // objects waiting for heal-on-read
  std::optional<heal_status> heal;  // the running or last heal sequence; nullopt = backend does not heal
};

// Objects as a listing sees them (latest versions that are not delete markers).
struct usage_info {
  uint64_t buckets = 0;
  uint64_t objects = 0;
  uint64_t bytes = 0;    // sum of those objects' sizes
  bool complete = true;  // false: the count stopped at its time budget (objects/bytes are lower bounds)
};

class object_layer {
 public:
  virtual ~object_layer() = default;

  // Buckets
  virtual result<void> make_bucket(const std::string& bucket, const std::string& owner) = 0;
  virtual result<bucket_info> bucket(const std::string& bucket) = 0;
  virtual result<std::vector<bucket_info>> list_buckets() = 0;
  virtual result<void> delete_bucket(const std::string& bucket) = 0;
  // Per-bucket configuration documents (versioning, tagging, policy, notification...), by name.
  virtual result<std::optional<std::string>> bucket_config(const std::string& bucket, const std::string& name) = 0;
  virtual result<void> set_bucket_config(const std::string& bucket, const std::string& name,
                                         std::optional<std::string> value) = 0;

  // Objects
  virtual result<object_info> put_object(const std::string& bucket, const std::string& key, source& data,
                                         put_options opts) = 0;
  virtual result<object_info> stat_object(const std::string& bucket, const std::string& key,
                                          const std::string& version_id = {}) = 0;
  virtual result<std::unique_ptr<object_reader>> get_object(const std::string& bucket, const std::string& key,
                                                            const get_options& opts) = 0;
  // Replaces metadata and tags of an existing object without touching its data.
  virtual result<object_info> update_object_metadata(const std::string& bucket, const std::string& key,
                                                     const std::string& version_id,
                                                     std::optional<metadata_map> metadata,
                                                     std::optional<std::string> tags) = 0;
  // Deleting a missing key succeeds (S3 semantics); the result says what was removed.
  virtual result<object_info> delete_object(const std::string& bucket, const std::string& key,
                                            const std::string& version_id = {}) = 0;
  virtual result<list_result> list_objects(const std::string& bucket, const list_options& opts) = 0;
  // Every version and delete marker (ListObjectVersions). Backends without versions: errc::not_implemented.
  // Whether buckets may enable versioning (version ids, delete markers) on this backend.
  virtual bool supports_versioning() const { return false; }
  virtual result<list_versions_result> list_object_versions(const std::string& bucket,
                                                            const list_versions_options& opts) {
    (void)bucket;
    (void)opts;
    return fail(make_error_code(errc::not_implemented), "listing versions is not supported by this backend");
  }

  // Multipart
  virtual result<std::string> new_multipart_upload(const std::string& bucket, const std::string& key,
                                                   put_options opts) = 0;
  virtual result<part_info> put_object_part(const std::string& bucket, const std::string& key,
                                            const std::string& upload_id, int part_number, source& data,
                                            std::optional<uint64_t> size, finalize_fn finalize) = 0;
  virtual result<list_parts_result> list_parts(const std::string& bucket, const std::string& key,
                                               const std::string& upload_id, int part_marker, int max_parts) = 0;
  // finalize (optional) sees the assembled object (parts, size, ETag) before it is committed.
  virtual result<object_info> complete_multipart_upload(const std::string& bucket, const std::string& key,
                                                        const std::string& upload_id,
                                                        const std::vector<completed_part>& parts,
                                                        finalize_fn finalize = {}) = 0;
  virtual result<void> abort_multipart_upload(const std::string& bucket, const std::string& key,
                                              const std::string& upload_id) = 0;
  virtual result<list_uploads_result> list_multipart_uploads(const std::string& bucket,
                                                             const list_uploads_options& opts) = 0;

  virtual result<storage_info> storage() = 0;

  // Healing (backends with redundancy; others answer errc::not_implemented).
  // Starts a heal sequence over bucket/prefix (bucket "" = every bucket) on
  // a background thread and returns its status at once (running; done when
  // the backend heals synchronously). Only one sequence runs at a time: else
  // errc::heal_in_progress. errc::bucket_not_found for a missing bucket.
  virtual result<heal_status> start_heal(const std::string& bucket, const std::string& prefix) {
    (void)bucket;
    (void)prefix;
    return fail(make_error_code(errc::not_implemented),
                "healing needs erasure-coded drives (this server runs on one drive folder)");
  }
  // Heal sequence `id`, or with id 0 the running or last one (id 0 in the
  // answer when none ran). Recent sequences only: errc::bad_argument for an
  // id that is no longer remembered.
  virtual result<heal_status> last_heal(uint64_t id = 0) {
    (void)id;
    return fail(make_error_code(errc::not_implemented),
                "healing needs erasure-coded drives (this server runs on one drive folder)");
  }
};

// Counts buckets and objects by listing every bucket (one metadata read per
// object, so O(objects)); stops after `budget` and then reports complete=false.
result<usage_info> count_usage(object_layer& store, std::chrono::milliseconds budget);

// S3 bucket naming rules (3-63 chars, lower-case, digits, '.', '-', no IP form...).
bool valid_bucket_name(const std::string& name);
// Object key rules shared by every backend; returns the reason when invalid.
std::optional<std::string> invalid_object_key(const std::string& key);

// Smallest part size except the last (S3: 5 MiB).
inline constexpr uint64_t kMinPartSize = 5ull << 20;
inline constexpr int kMaxPartNumber = 10000;

}  // namespace sluice::objstore

SLUICE_ERRC_ENUM(sluice::objstore::errc)
