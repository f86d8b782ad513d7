#pragma once
// Stream metadata: streams (owner epoch, trim point, committed end), the
// objects that hold their data (with per-stream ranges), and a small KV space
// for the layers above (topics, consumer group offsets). Every mutating call
// is atomic (all or nothing) and durable when it returns ok. One node: SQLite
// (this folder, README.md); a cluster: etcd, behind the same interface.
//
// Threading: every method may be called from any thread; calls are serialized.
// Errors: errc values of stream/types.h as listed per method; anything the
// backend did not expect (I/O error, corrupt database) is errc::meta_error
// with the backend's message, and a failed mutating call has changed nothing.
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "stream/types.h"

namespace sluice::stream::meta {

enum class stream_state { closed = 0, opened = 1 };

struct stream_info {
  stream_id id;
  stream::epoch epoch;  // 0 when created, bumped by every open
  stream_state state = stream_state::closed;
  node_id owner;                            // node that opened it last (0: never opened)
  offset start = 0;                         // trim point: offsets below are gone
  offset end = 0;                           // committed end: [start, end) is in objects; end >= start
  std::map<std::string, std::string> tags;  // e.g. "topic" -> name, "partition" -> "3"
};

enum class object_kind { stream_set = 0, stream = 1 };
enum class object_state { prepared = 0, committed = 1, deleting = 2 };

struct object_range {
  stream_id stream;
  offset start = 0;
  offset end = 0;
  uint64_t bytes = 0;
};

struct object_info {
  object_id id;
  object_kind kind = object_kind::stream_set;
  object_state state = object_state::prepared;
  uint64_t size = 0;
  // Sorted by stream, at most one range per stream, each non-empty (start < end).
  // A stream object (kind stream) has exactly one.
  std::vector<object_range> ranges;
  int64_t data_time_ms = 0;   // newest record timestamp (retention), or commit time
  int64_t state_time_ms = 0;  // when it entered its state (prepare TTL, delete grace)
  uint64_t order = 0;         // commit order (stream-set objects: upload order)
};

// One atomic commit: new objects become visible, replaced ones start their
// delete grace period, and streams' committed ends advance.
struct commit_request {
  node_id node;
  // Must be prepared; become committed. Taken from each: id, kind, size, ranges,
  // data_time_ms (<= 0: the commit time). state, state_time_ms, order are set
  // by the store. Ranges of a deleted stream are accepted (dead on arrival).
  std::vector<object_info> objects;
  // Committed objects whose data now lives in `objects`: they move to deleting
  // (already deleting ones keep their state time).
  std::vector<object_id> compacted;
  // Streams whose end moves forward (upload of new data): id -> (epoch, new end).
  // An end never moves back (end = max(end, new end)). A stale epoch, or an
  // owner other than `node`, fails the whole commit with errc::stream_fenced.
  // The stream may be closed already (same epoch): a closing owner may still
  // upload what it acknowledged.
  std::map<stream_id, std::pair<stream::epoch, offset>> stream_ends;
};

class meta_store {
 public:
  virtual ~meta_store() = default;

  // Streams. Every call naming a stream fails with stream_not_found if it does
  // not exist (never created, or deleted).

  // New id from a counter (1, 2, ...; never reused), epoch 0, closed, start = end = 0.
  virtual result<stream_info> create_stream(std::map<std::string, std::string> tags) = 0;
  // Bumps the epoch, records the owner, state opened; returns the new info.
  // Opening a stream that is opened by another node fails with stream_fenced
  // (AutoMQ's STREAM_NOT_CLOSED) unless force (failover takes it over). The
  // same node may reopen (restart): the new epoch fences its old incarnation.
  virtual result<stream_info> open_stream(stream_id id, node_id node, bool force = false) = 0;
  // close, trim and delete fail with stream_fenced when e is not the current epoch.
  // Closing a closed stream (same epoch) is a no-op.
  virtual result<void> close_stream(stream_id id, stream::epoch e) = 0;
  // start = max(start, new_start); end = max(end, start): the trim point never
  // moves back, and may pass the committed end (the WAL tail was trimmed too).
  virtual result<void> trim_stream(stream_id id, stream::epoch e, offset new_start) = 0;
  // Removes the stream; its objects' ranges stop counting: the next
  // expire_trimmed_objects moves objects with no live range left to deleting.
  virtual result<void> delete_stream(stream_id id, stream::epoch e) = 0;
  virtual result<stream_info> get_stream(stream_id id) = 0;
  // By id.
  virtual result<std::vector<stream_info>> list_streams() = 0;
  // Streams this node has open (restart recovery), by id.
  virtual result<std::vector<stream_info>> opened_streams(node_id node) = 0;

  // Objects
  // Objects. Times are ms since the Unix epoch, given by the caller (testable).

  // Reserves n new object ids (ascending, from a counter, never reused) in
  // state prepared with state_time now (a crashed upload leaves them prepared;
  // they expire after a TTL and are cleaned up). n = 0 gives none; n > 100000
  // is bad_argument.
  virtual result<std::vector<object_id>> prepare_objects(uint32_t n, int64_t now_ms) = 0;
  // All or nothing. Fails, changing nothing, with
  //   stream_not_found  a stream_ends stream does not exist;
  //   stream_fenced     a stream_ends epoch/owner is stale;
  //   object_not_found  an object or compacted id is unknown;
  //   bad_argument      an object is not prepared (e.g. expired), a compacted
  //                     one is not committed/deleting, an id is repeated, or a
  //                     range is invalid (empty, repeated stream, stream id
  //                     never created, stream object without exactly one range).
  // Committed objects get order from a counter (in request order).
  virtual result<void> commit(const commit_request& req, int64_t now_ms) = 0;
  // Committed objects holding any offset of [from, to) of stream s, ordered by
  // the start of their range for s (ties: newest commit first). Each returned
  // object's ranges hold only its range for s (a stream-set object may hold
  // thousands). Indexed: the cost grows with the objects returned, not with
  // the stream's history. from >= to gives none.
  // At most `limit` objects when limit > 0 (readers need only the first).
  virtual result<std::vector<object_info>> objects_for(stream_id s, offset from, offset to, size_t limit = 0) = 0;
  // By id, with all their ranges.
  virtual result<std::vector<object_info>> list_objects(std::optional<object_state> state = {}) = 0;
  // Committed objects none of whose ranges is live any more (every range ends
  // at or below its stream's start, or is of a deleted stream) move to
  // deleting with state_time now. Returns how many moved.
  virtual result<uint32_t> expire_trimmed_objects(int64_t now_ms) = 0;
  // Prepared objects at least ttl old (state_time + ttl <= now) move to
  // deleting with state_time now; a late commit of one then fails.
  virtual result<uint32_t> expire_prepared(int64_t now_ms, std::chrono::milliseconds ttl) = 0;
  // Objects in deleting for at least grace (state_time + grace <= now), by id:
  // their data may be removed from the bucket now.
  virtual result<std::vector<object_id>> deletable(int64_t now_ms, std::chrono::milliseconds grace) = 0;
  // Forgets objects whose data was removed. Unknown ids are ignored (a retry
  // after a crash); an id not in deleting fails with bad_argument, changing nothing.
  virtual result<void> forget_objects(const std::vector<object_id>& ids) = 0;

  // KV. Keys and values are arbitrary bytes (NULs included); keys order bytewise (unsigned).
  virtual result<std::optional<std::string>> get(const std::string& key) = 0;
  virtual result<void> put(const std::string& key, const std::string& value) = 0;
  virtual result<void> erase(const std::string& key) = 0;
  // Pairs with keys starting with prefix (empty: all), in key order.
  virtual result<std::vector<std::pair<std::string, std::string>>> scan(const std::string& prefix) = 0;
};

// The embedded store: one SQLite database file (WAL journal, synchronous=FULL),
// created with its schema if missing. Fails with meta_error if the file is not
// a Sluice metadata database or its schema is newer than this build knows.
// One process at a time per file (not enforced against other processes).
// ":memory:" gives a private, non-durable store (tests).
result<std::unique_ptr<meta_store>> open_sqlite(const std::string& path);

}  // namespace sluice::stream::meta
