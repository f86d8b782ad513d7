#pragma once
// The stream engine: streams of Kafka record batches whose acknowledged
// appends live in a local write-ahead log and whose data lives in object
// storage. See src/stream/README.md for the design and the exact guarantees.
//
//   append -> WAL group commit (durable) -> log cache -> ack
//   log cache blocks -> upload (stream-set object + stream objects) -> metadata commit -> WAL trim
//   read -> log cache, else objects through the block cache (read-ahead)
//   janitor -> retention trims, compaction, deletion of unreferenced objects
//
// A broker keeps nothing the WAL, the metadata store and the bucket don't:
// after kill -9, open() replays the WAL past the committed ends, uploads and
// commits it before serving.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "stream/meta/meta_store.h"
#include "stream/storage/object_storage.h"
#include "stream/types.h"
#include "stream/wal/wal.h"

namespace sluice::stream {

struct engine_options {
  stream::node_id node{0};
  std::string cluster_id = "sluice";  // part of every object key
  wal::options wal;

  // Log cache: records appended and not yet evicted. Uploaded blocks are
  // evicted oldest first beyond this; appends wait (then fail with
  // cache_full) while not-yet-uploaded data alone fills it.
  size_t log_cache_bytes = 256 << 20;
  std::chrono::milliseconds append_wait{5'000};
  // Upload a block when it holds this much, or when its oldest record is this old.
  size_t upload_bytes = 64 << 20;
  std::chrono::milliseconds upload_interval{5'000};
  // Uploads streamed into the store are paced (object_storage::put_stream) at this
  // many times the rate their block's data came in, never slower than
  // upload_pace_min_bytes per second, and at full speed while another upload's
  // worth of data waits behind them or the engine closes: on a store that
  // shares the WAL's disk, a burst of object writes makes the WAL's flushes
  // queue behind it (docs/BENCHMARKS.md, "Stream engine"). 0 = not paced.
  uint32_t upload_pace = 2;
  uint64_t upload_pace_min_bytes = 32 << 20;
  // A stream with at least this much data in one upload gets an object of its own.
  size_t stream_split_bytes = 8 << 20;
  size_t object_block_bytes = 512 << 10;
  // Objects larger than this are sent as multipart uploads with parts of this size.
  size_t part_bytes = 32 << 20;

  // Block cache for reads from objects, and read-ahead bounds.
  size_t block_cache_bytes = 128 << 20;
  size_t readahead_min = 512 << 10;
  size_t readahead_max = 32 << 20;

  // Janitor: retention, compaction, deletion.
  std::chrono::milliseconds janitor_interval{10'000};
  std::chrono::milliseconds delete_grace{60'000};
  std::chrono::milliseconds prepared_ttl{3'600'000};
  bool compaction = true;
  size_t compaction_max_input_bytes = 256 << 20;     // per run (memory bound)
  size_t compaction_min_objects = 4;                 // stream-set objects needed before merging
  uint64_t compaction_bytes_per_sec = 100ull << 20;  // read+write budget, so it never starves produce/fetch
  size_t stream_object_merge_bytes = 64 << 20;       // stream objects smaller than this are merged
  bool background = true;  // false: no uploader/janitor threads (tests call flush()/run_janitor())
  // close() uploads what only the WAL holds. Tests turn it off to leave the
  // state a crash leaves.
  bool upload_on_close = true;
};

struct append_request {
  // A Kafka record batch, kept as it is (no copy) by the log cache: e.g. a
  // byte_arena copy, or unique_bytes(std::string) taking a string over.
  unique_bytes payload;
  uint32_t count = 1;  // offsets it covers
  int64_t max_timestamp = -1;
  // Called with the assigned base offset before the record is logged, to
  // stamp it into the payload in place (Kafka's baseOffset field). Optional.
  std::function<void(std::span<char> payload, offset base)> stamp;
};

struct append_result {
  offset base = 0;
  offset end = 0;    // base + count
  offset start = 0;  // the stream's start (oldest readable offset) when the append became durable
};

using append_callback = std::function<void(result<append_result>)>;

struct read_options {
  size_t max_bytes = 1 << 20;  // at least one record is returned even if larger
  offset end = -1;             // stop before this offset (-1: the stream's end)
};

using record_ptr = std::shared_ptr<const record>;

struct stream_status {
  stream_id id;
  stream::epoch epoch;
  offset start = 0;      // oldest readable offset
  offset end = 0;        // next offset to be acknowledged (high watermark)
  offset committed = 0;  // end of the data in objects
  std::map<std::string, std::string> tags;
};

struct retention_policy {
  std::optional<std::chrono::milliseconds> time;
  std::optional<uint64_t> bytes;
};

struct engine_stats {
  uint64_t appends = 0, append_bytes = 0;
  uint64_t uploads = 0, upload_bytes = 0, put_requests = 0;  // PutObject + UploadPart
  uint64_t cache_reads = 0, object_reads = 0, object_read_bytes = 0, get_requests = 0;
  uint64_t block_cache_hits = 0, block_cache_misses = 0;
  uint64_t compactions = 0, compacted_bytes = 0, objects_deleted = 0;
  uint64_t cache_bytes = 0, unuploaded_bytes = 0, wal_used = 0;
  uint64_t recovered_records = 0;
};

class engine {
 public:
  virtual ~engine() = default;

  virtual result<stream_status> create_stream(std::map<std::string, std::string> tags) = 0;
  // Takes ownership (new epoch); appends and reads need an open stream.
  virtual result<stream_status> open_stream(stream_id id) = 0;
  // Uploads what the stream has in the WAL, then closes it.
  virtual result<void> close_stream(stream_id id) = 0;
  virtual result<void> delete_stream(stream_id id) = 0;
  virtual result<stream_status> status(stream_id id) = 0;

  // Assigns the next offsets and logs the record; done is called (on an engine
  // thread, keep it short) when it is durable in the WAL, or failed.
  virtual void append(stream_id id, append_request req, append_callback done) = 0;
  result<append_result> append_sync(stream_id id, append_request req);

  // Records holding offsets from `from` on (the first may start before it).
  // Empty at the end of the stream; offset_out_of_range outside [start, end].
  virtual result<std::vector<record_ptr>> read(stream_id id, offset from, const read_options& opts = {}) = 0;
  // First offset whose record has max_timestamp >= ts (end when none).
  virtual result<offset> offset_for_time(stream_id id, int64_t ts) = 0;

  // Moves the start forward (DeleteRecords, retention).
  virtual result<void> trim(stream_id id, offset new_start) = 0;
  virtual void set_retention(stream_id id, retention_policy p) = 0;

  // Called (on an engine thread) whenever a stream's end advances.
  virtual void on_append(std::function<void(stream_id, offset end)> fn) = 0;

  // Uploads everything logged so far and commits it (tests, shutdown).
  virtual result<void> flush() = 0;
  // One janitor pass: retention, compaction, deletion (tests; runs by itself with background).
  virtual result<void> run_janitor() = 0;
  virtual engine_stats stats() = 0;
  // Stops background work after uploading what is in the WAL (best effort).
  virtual void close() = 0;
};

// Opens the engine: recovers the WAL (records past the committed ends are
// uploaded and committed before open returns), then starts background work.
result<std::unique_ptr<engine>> open_engine(const engine_options& opts,
                                            std::unique_ptr<wal::device> wal_device, meta::meta_store& meta,
                                            object_storage& storage);

// Object key of a data object.
std::string object_key(const std::string& cluster_id, object_id id);

}  // namespace sluice::stream
