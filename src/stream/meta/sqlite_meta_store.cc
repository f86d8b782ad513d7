// The embedded metadata store on SQLite. Schema, guarantees and the reasons
// behind them: README.md in this folder.
#include <fmt/format.h>
#include <sqlite3.h>

#include <algorithm>
#include <boost/json.hpp>
#include <limits>
#include <mutex>
#include <set>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "base/fs.h"
#include "stream/meta/meta_store.h"

namespace sluice::stream::meta {
namespace {

// Bump on every schema change, with a migration from the previous version.
constexpr int kSchemaVersion = 1;
// PRAGMA application_id: marks the file as a Sluice metadata database ("SlM1").
constexpr int32_t kApplicationId = 0x536c4d31;
// How long a call waits for a lock held by another connection (e.g. an
// operator's sqlite3 shell) before failing with meta_error.
constexpr int kBusyTimeoutMs = 5000;
constexpr uint32_t kMaxPrepare = 100000;
constexpr std::string_view kMemoryPath = ":memory:";

constexpr std::string_view kSchema = R"sql(
CREATE TABLE counters (
  name TEXT PRIMARY KEY,
  next INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
INSERT INTO counters (name, next) VALUES ('stream', 1), ('object', 1), ('order', 1);

CREATE TABLE streams (
  id INTEGER PRIMARY KEY,
  epoch INTEGER NOT NULL,
  state INTEGER NOT NULL,
  owner INTEGER NOT NULL,
  start_offset INTEGER NOT NULL,
  end_offset INTEGER NOT NULL,
  max_range_len INTEGER NOT NULL,
  tags TEXT NOT NULL
) STRICT;
CREATE INDEX streams_opened_by_owner ON streams (owner) WHERE state = 1;

CREATE TABLE objects (
  id INTEGER PRIMARY KEY,
  kind INTEGER NOT NULL,
  state INTEGER NOT NULL,
  size INTEGER NOT NULL,
  data_time_ms INTEGER NOT NULL,
  state_time_ms INTEGER NOT NULL,
  commit_order INTEGER NOT NULL
) STRICT;
CREATE INDEX objects_by_state ON objects (state, state_time_ms);

CREATE TABLE object_ranges (
  object INTEGER NOT NULL,
  stream INTEGER NOT NULL,
  start_offset INTEGER NOT NULL,
  end_offset INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  PRIMARY KEY (object, stream)
) STRICT, WITHOUT ROWID;
CREATE INDEX object_ranges_by_stream ON object_ranges (stream, start_offset, end_offset);

CREATE TABLE kv (
  key BLOB PRIMARY KEY,
  value BLOB NOT NULL
) STRICT, WITHOUT ROWID;
)sql";

// Statements, prepared once per connection and cached by their text.
constexpr std::string_view kBegin = "BEGIN IMMEDIATE";
constexpr std::string_view kCommit = "COMMIT";
constexpr std::string_view kRollback = "ROLLBACK";
constexpr std::string_view kGetCounter = "SELECT next FROM counters WHERE name = ?1";
constexpr std::string_view kSetCounter = "UPDATE counters SET next = ?2 WHERE name = ?1";

constexpr std::string_view kInsertStream =
    "INSERT INTO streams (id, epoch, state, owner, start_offset, end_offset, max_range_len, tags) "
    "VALUES (?1, 0, 0, 0, 0, 0, 0, ?2)";
constexpr std::string_view kGetStream =
    "SELECT id, epoch, state, owner, start_offset, end_offset, tags FROM streams WHERE id = ?1";
constexpr std::string_view kListStreams =
    "SELECT id, epoch, state, owner, start_offset, end_offset, tags FROM streams ORDER BY id";
constexpr std::string_view kOpenedStreams =
    "SELECT id, epoch, state, owner, start_offset, end_offset, tags FROM streams "
    "WHERE state = 1 AND owner = ?1 ORDER BY id";
constexpr std::string_view kUpdateStream =
    "UPDATE streams SET epoch = ?2, state = ?3, owner = ?4, start_offset = ?5, end_offset = ?6 WHERE id = ?1";
constexpr std::string_view kDeleteStream = "DELETE FROM streams WHERE id = ?1";
constexpr std::string_view kAdvanceEnd = "UPDATE streams SET end_offset = max(end_offset, ?2) WHERE id = ?1";
constexpr std::string_view kGrowRangeLen =
    "UPDATE streams SET max_range_len = max(max_range_len, ?2) WHERE id = ?1";
constexpr std::string_view kGetRangeLen = "SELECT max_range_len FROM streams WHERE id = ?1";

constexpr std::string_view kInsertPrepared =
    "INSERT INTO objects (id, kind, state, size, data_time_ms, state_time_ms, commit_order) "
    "VALUES (?1, 0, 0, 0, 0, ?2, 0)";
constexpr std::string_view kGetObjectState = "SELECT state FROM objects WHERE id = ?1";
constexpr std::string_view kCommitObject =
    "UPDATE objects SET kind = ?2, state = 1, size = ?3, data_time_ms = ?4, state_time_ms = ?5, "
    "commit_order = ?6 WHERE id = ?1";
constexpr std::string_view kInsertRange =
    "INSERT INTO object_ranges (object, stream, start_offset, end_offset, bytes) VALUES (?1, ?2, ?3, ?4, ?5)";
constexpr std::string_view kMarkCompacted =
    "UPDATE objects SET state = 2, state_time_ms = ?2 WHERE id = ?1 AND state = 1";
// A range [a, b) of s overlaps [from, to) iff a < to and b > from. b - a is at
// most the stream's max_range_len, so a > from - max_range_len: ?2 bounds the
// index scan from below; its width is the longest range ever committed, not
// the stream's history.
constexpr std::string_view kObjectsFor =
    "SELECT o.id, o.kind, o.state, o.size, o.data_time_ms, o.state_time_ms, o.commit_order, "
    "r.stream, r.start_offset, r.end_offset, r.bytes "
    "FROM object_ranges r JOIN objects o ON o.id = r.object "
    "WHERE r.stream = ?1 AND r.start_offset >= ?2 AND r.start_offset < ?3 AND r.end_offset > ?4 "
    "AND o.state = 1 "
    "ORDER BY r.start_offset, o.commit_order DESC";
constexpr std::string_view kListObjects =
    "SELECT o.id, o.kind, o.state, o.size, o.data_time_ms, o.state_time_ms, o.commit_order, "
    "r.stream, r.start_offset, r.end_offset, r.bytes "
    "FROM objects o LEFT JOIN object_ranges r ON r.object = o.id ORDER BY o.id, r.stream";
constexpr std::string_view kListObjectsIn =
    "SELECT o.id, o.kind, o.state, o.size, o.data_time_ms, o.state_time_ms, o.commit_order, "
    "r.stream, r.start_offset, r.end_offset, r.bytes "
    "FROM objects o LEFT JOIN object_ranges r ON r.object = o.id WHERE o.state = ?1 ORDER BY o.id, r.stream";
constexpr std::string_view kExpireTrimmed =
    "UPDATE objects SET state = 2, state_time_ms = ?1 WHERE state = 1 AND NOT EXISTS ("
    "SELECT 1 FROM object_ranges r JOIN streams s ON s.id = r.stream "
    "WHERE r.object = objects.id AND r.end_offset > s.start_offset)";
constexpr std::string_view kExpirePrepared =
    "UPDATE objects SET state = 2, state_time_ms = ?1 WHERE state = 0 AND state_time_ms <= ?2";
constexpr std::string_view kDeletable =
    "SELECT id FROM objects WHERE state = 2 AND state_time_ms <= ?1 ORDER BY id";
constexpr std::string_view kForgetRanges = "DELETE FROM object_ranges WHERE object = ?1";
constexpr std::string_view kForgetObject = "DELETE FROM objects WHERE id = ?1";

constexpr std::string_view kKvGet = "SELECT value FROM kv WHERE key = ?1";
constexpr std::string_view kKvPut =
    "INSERT INTO kv (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value";
constexpr std::string_view kKvErase = "DELETE FROM kv WHERE key = ?1";
constexpr std::string_view kKvScan = "SELECT key, value FROM kv WHERE key >= ?1 AND key < ?2 ORDER BY key";
constexpr std::string_view kKvScanToEnd = "SELECT key, value FROM kv WHERE key >= ?1 ORDER BY key";

error sqlite_error(sqlite3* db, std::string_view what) {
  return error(errc::meta_error,
               fmt::format("sqlite: {}: {}", what, db ? sqlite3_errmsg(db) : "out of memory"));
}

int64_t sql(uint64_t v) {
  return static_cast<int64_t>(v);
}
template <class T, class Tag>
int64_t sql(const strong<T, Tag>& v) {
  return static_cast<int64_t>(v.value());
}

// a - b without overflow (times and durations come from callers).
int64_t minus(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_sub_overflow(a, b, &r))
    return b > 0 ? std::numeric_limits<int64_t>::min() : std::numeric_limits<int64_t>::max();
  return r;
}

// The smallest key greater than every key starting with prefix, if any: drop
// trailing 0xFF bytes, increment the last one. None for "" or all-0xFF.
std::optional<std::string> prefix_successor(std::string p) {
  while (!p.empty() && static_cast<unsigned char>(p.back()) == 0xff) p.pop_back();
  if (p.empty()) return std::nullopt;
  p.back() = static_cast<char>(static_cast<unsigned char>(p.back()) + 1);
  return p;
}

std::string encode_tags(const std::map<std::string, std::string>& tags) {
  boost::json::object o;
  for (const auto& [k, v] : tags) o[k] = v;
  return boost::json::serialize(o);
}

result<std::map<std::string, std::string>> decode_tags(std::string_view s) {
  boost::json::parse_options opts;
  opts.allow_invalid_utf8 = true;  // tags are bytes; the serializer writes them as they are
  boost::system::error_code ec;
  auto v = boost::json::parse(s, ec, {}, opts);
  if (ec || !v.is_object()) return fail(errc::meta_error, fmt::format("corrupt stream tags: {}", s));
  std::map<std::string, std::string> tags;
  for (const auto& kv : v.as_object()) {
    if (!kv.value().is_string()) return fail(errc::meta_error, fmt::format("corrupt stream tags: {}", s));
    tags.emplace(std::string(kv.key()), std::string(kv.value().as_string()));
  }
  return tags;
}

// One use of a cached statement: bind, step, read columns. Resets the
// statement and clears its bindings when it goes out of scope.
class query {
 public:
  query(sqlite3* db, sqlite3_stmt* s, std::string_view sql) : db_(db), s_(s), sql_(sql) {}
  query(query&& o) noexcept
      : db_(o.db_), s_(std::exchange(o.s_, nullptr)), sql_(o.sql_), bind_rc_(o.bind_rc_) {}
  query(const query&) = delete;
  query& operator=(const query&) = delete;
  query& operator=(query&&) = delete;
  ~query() {
    if (s_) {
      sqlite3_reset(s_);
      sqlite3_clear_bindings(s_);
    }
  }

  query& bind(int i, int64_t v) { return note(sqlite3_bind_int64(s_, i, v)); }
  query& bind_text(int i, std::string_view v) {
    return note(
        sqlite3_bind_text64(s_, i, v.data() ? v.data() : "", v.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
  }
  // Non-null pointer even when empty: a zero-length blob, not NULL.
  query& bind_blob(int i, std::string_view v) {
    return note(sqlite3_bind_blob64(s_, i, v.data() ? v.data() : "", v.size(), SQLITE_TRANSIENT));
  }

  // true: a row is ready; false: done.
  result<bool> step() {
    if (bind_rc_ != SQLITE_OK) {
      return fail(errc::meta_error, fmt::format("sqlite: bind for {}: {}", sql_, sqlite3_errstr(bind_rc_)));
    }
    int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return fail(sqlite_error(db_, sql_));
  }
  // Runs a statement to completion, ignoring rows.
  result<void> run() {
    for (;;) {
      SLUICE_TRY(bool row, step());
      if (!row) return ok();
    }
  }

  int64_t i64(int col) const { return sqlite3_column_int64(s_, col); }
  bool is_null(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }
  std::string bytes(int col) const {
    const void* p = sqlite3_column_blob(s_, col);  // before _bytes (type conversion rules)
    int n = sqlite3_column_bytes(s_, col);
    return p ? std::string(static_cast<const char*>(p), static_cast<size_t>(n)) : std::string();
  }
  std::string text(int col) const {
    const unsigned char* p = sqlite3_column_text(s_, col);
    int n = sqlite3_column_bytes(s_, col);
    return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n)) : std::string();
  }

 private:
  query& note(int rc) {
    if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
    return *this;
  }

  sqlite3* db_;
  sqlite3_stmt* s_;
  std::string_view sql_;
  int bind_rc_ = SQLITE_OK;
};

// Columns: id, epoch, state, owner, start_offset, end_offset, tags.
result<stream_info> read_stream(const query& q) {
  stream_info s;
  s.id = stream_id(static_cast<uint64_t>(q.i64(0)));
  s.epoch = stream::epoch(static_cast<uint64_t>(q.i64(1)));
  s.state = static_cast<stream_state>(q.i64(2));
  s.owner = node_id(static_cast<uint32_t>(q.i64(3)));
  s.start = q.i64(4);
  s.end = q.i64(5);
  SLUICE_TRY(s.tags, decode_tags(q.text(6)));
  return s;
}

// Columns: id, kind, state, size, data_time_ms, state_time_ms, commit_order.
object_info read_object(const query& q) {
  object_info o;
  o.id = object_id(static_cast<uint64_t>(q.i64(0)));
  o.kind = static_cast<object_kind>(q.i64(1));
  o.state = static_cast<object_state>(q.i64(2));
  o.size = static_cast<uint64_t>(q.i64(3));
  o.data_time_ms = q.i64(4);
  o.state_time_ms = q.i64(5);
  o.order = static_cast<uint64_t>(q.i64(6));
  return o;
}

// Columns from 7: stream, start_offset, end_offset, bytes.
object_range read_range(const query& q) {
  return object_range{stream_id(static_cast<uint64_t>(q.i64(7))), q.i64(8), q.i64(9),
                      static_cast<uint64_t>(q.i64(10))};
}

error fenced(stream_id id, stream::epoch given, stream::epoch current) {
  return error(errc::stream_fenced, fmt::format("stream {}: epoch {} is stale (current {})", id.value(),
                                                given.value(), current.value()));
}

// Request checks that need no database: ids repeated, ranges malformed.
result<void> check_request(const commit_request& req) {
  std::set<uint64_t> ids;
  for (const auto& o : req.objects) {
    if (!ids.insert(o.id.value()).second) {
      return fail(errc::bad_argument, fmt::format("commit: object {} appears twice", o.id.value()));
    }
    if (o.kind != object_kind::stream_set && o.kind != object_kind::stream) {
      return fail(errc::bad_argument, fmt::format("commit: object {} has an unknown kind", o.id.value()));
    }
    if (o.ranges.empty() || (o.kind == object_kind::stream && o.ranges.size() != 1)) {
      return fail(errc::bad_argument,
                  fmt::format("commit: object {} has {} ranges", o.id.value(), o.ranges.size()));
    }
    std::set<uint64_t> streams;
    for (const auto& r : o.ranges) {
      if (r.start < 0 || r.start >= r.end) {
        return fail(errc::bad_argument,
                    fmt::format("commit: object {}: empty or negative range [{}, {}) of stream {}",
                                o.id.value(), r.start, r.end, r.stream.value()));
      }
      if (!streams.insert(r.stream.value()).second) {
        return fail(errc::bad_argument, fmt::format("commit: object {} has two ranges of stream {}",
                                                    o.id.value(), r.stream.value()));
      }
    }
  }
  for (const auto& id : req.compacted) {
    if (!ids.insert(id.value()).second) {
      return fail(errc::bad_argument, fmt::format("commit: object {} appears twice", id.value()));
    }
  }
  return ok();
}

class sqlite_meta_store final : public meta_store {
 public:
  explicit sqlite_meta_store(sqlite3* db) : db_(db) {}
  ~sqlite_meta_store() override {
    for (auto& [sql, s] : cache_) sqlite3_finalize(s);
    sqlite3_close_v2(db_);
  }
  sqlite_meta_store(const sqlite_meta_store&) = delete;
  sqlite_meta_store& operator=(const sqlite_meta_store&) = delete;

  // Connection setup and schema check/creation; called once, before any other thread sees the store.
  result<void> init(bool durable) {
    sqlite3_extended_result_codes(db_, 1);
    if (sqlite3_busy_timeout(db_, kBusyTimeoutMs) != SQLITE_OK)
      return fail(sqlite_error(db_, "busy_timeout"));
    if (durable) {
      std::string mode;
      SLUICE_TRY(exec_rows("PRAGMA journal_mode=WAL", [&](const query& q) { mode = q.text(0); }));
      if (mode != "wal")
        return fail(errc::meta_error, "sqlite: cannot enable WAL journal (mode " + mode + ")");
    }
    // FULL: in WAL mode, every commit fsyncs the WAL before returning.
    SLUICE_TRY(exec_rows("PRAGMA synchronous=FULL", [](const query&) {}));
    return write([&]() -> result<void> {
      int64_t app = 0, version = 0, tables = 0;
      SLUICE_TRY(exec_rows("PRAGMA application_id", [&](const query& q) { app = q.i64(0); }));
      SLUICE_TRY(exec_rows("PRAGMA user_version", [&](const query& q) { version = q.i64(0); }));
      SLUICE_TRY(exec_rows("SELECT count(*) FROM sqlite_schema", [&](const query& q) { tables = q.i64(0); }));
      if (app == 0 && version == 0 && tables == 0) return create_schema();
      if (app != kApplicationId) return fail(errc::meta_error, "not a Sluice metadata database");
      if (version > kSchemaVersion) {
        return fail(errc::meta_error,
                    fmt::format("metadata schema version {} is newer than this build supports ({}): "
                                "run a newer Sluice",
                                version, kSchemaVersion));
      }
      if (version < kSchemaVersion) {
        return fail(errc::meta_error, fmt::format("metadata schema version {} is unknown", version));
      }
      return ok();
    });
  }

  result<stream_info> create_stream(std::map<std::string, std::string> tags) override {
    std::lock_guard lock(mu_);
    return write([&]() -> result<stream_info> {
      SLUICE_TRY(int64_t id, take("stream", 1));
      SLUICE_TRY(auto q, prepare(kInsertStream));
      SLUICE_TRY(q.bind(1, id).bind_text(2, encode_tags(tags)).run());
      stream_info s;
      s.id = stream_id(static_cast<uint64_t>(id));
      s.tags = std::move(tags);
      return s;
    });
  }

  result<stream_info> open_stream(stream_id id, node_id node, bool force) override {
    std::lock_guard lock(mu_);
    return write([&]() -> result<stream_info> {
      SLUICE_TRY(auto s, load_stream(id));
      if (s.state == stream_state::opened && s.owner != node && !force) {
        return fail(errc::stream_fenced,
                    fmt::format("stream {} is opened by node {} at epoch {} (not closed)", id.value(),
                                s.owner.value(), s.epoch.value()));
      }
      s.epoch = stream::epoch(s.epoch.value() + 1);
      s.state = stream_state::opened;
      s.owner = node;
      SLUICE_TRY(store_stream(s));
      return s;
    });
  }

  result<void> close_stream(stream_id id, stream::epoch e) override {
    std::lock_guard lock(mu_);
    return write([&]() -> result<void> {
      SLUICE_TRY(auto s, load_current(id, e));
      if (s.state == stream_state::closed) return ok();
      s.state = stream_state::closed;
      return store_stream(s);
    });
  }

  result<void> trim_stream(stream_id id, stream::epoch e, offset new_start) override {
    std::lock_guard lock(mu_);
    return write([&]() -> result<void> {
      SLUICE_TRY(auto s, load_current(id, e));
      s.start = std::max(s.start, new_start);
      s.end = std::max(s.end, s.start);
      return store_stream(s);
    });
  }

  result<void> delete_stream(stream_id id, stream::epoch e) override {
    std::lock_guard lock(mu_);
    return write([&]() -> result<void> {
      SLUICE_TRY(load_current(id, e));
      SLUICE_TRY(auto q, prepare(kDeleteStream));
      return q.bind(1, sql(id)).run();
    });
  }

  result<stream_info> get_stream(stream_id id) override {
    std::lock_guard lock(mu_);
    return load_stream(id);
  }

  result<std::vector<stream_info>> list_streams() override {
    std::lock_guard lock(mu_);
    SLUICE_TRY(auto q, prepare(kListStreams));
    return read_streams(q);
  }

  result<std::vector<stream_info>> opened_streams(node_id node) override {
    std::lock_guard lock(mu_);
    SLUICE_TRY(auto q, prepare(kOpenedStreams));
    q.bind(1, sql(node));
    return read_streams(q);
  }

  result<std::vector<object_id>> prepare_objects(uint32_t n, int64_t now_ms) override {
    if (n > kMaxPrepare) {
      return fail(errc::bad_argument,
                  fmt::format("prepare_objects: {} ids asked, at most {}", n, kMaxPrepare));
    }
    if (n == 0) return std::vector<object_id>{};
    std::lock_guard lock(mu_);
    return write([&]() -> result<std::vector<object_id>> {
      SLUICE_TRY(int64_t first, take("object", n));
      std::vector<object_id> ids;
      ids.reserve(n);
      for (uint32_t i = 0; i < n; ++i) {
        SLUICE_TRY(auto q, prepare(kInsertPrepared));
        SLUICE_TRY(q.bind(1, first + i).bind(2, now_ms).run());
        ids.emplace_back(static_cast<uint64_t>(first + i));
      }
      return ids;
    });
  }

  result<void> commit(const commit_request& req, int64_t now_ms) override {
    SLUICE_TRY(check_request(req));
    std::lock_guard lock(mu_);
    return write([&]() -> result<void> {
      // Validate everything first; then apply. A failure in either rolls back.
      for (const auto& [id, end] : req.stream_ends) {
        SLUICE_TRY(auto s, load_stream(id));
        if (s.epoch != end.first) return fail(fenced(id, end.first, s.epoch));
        if (s.owner != req.node) {
          return fail(errc::stream_fenced, fmt::format("stream {}: owned by node {}, not node {}", id.value(),
                                                       s.owner.value(), req.node.value()));
        }
      }
      SLUICE_TRY(int64_t next_stream, counter("stream"));
      for (const auto& o : req.objects) {
        SLUICE_TRY(auto state, object_state_of(o.id));
        if (state != object_state::prepared) {
          return fail(errc::bad_argument, fmt::format("commit: object {} is not prepared (state {})",
                                                      o.id.value(), static_cast<int>(state)));
        }
        for (const auto& r : o.ranges) {
          if (sql(r.stream) <= 0 || sql(r.stream) >= next_stream) {
            return fail(errc::bad_argument, fmt::format("commit: object {} has a range of unknown stream {}",
                                                        o.id.value(), r.stream.value()));
          }
        }
      }
      for (const auto& id : req.compacted) {
        SLUICE_TRY(auto state, object_state_of(id));
        if (state == object_state::prepared) {
          return fail(errc::bad_argument,
                      fmt::format("commit: compacted object {} is not committed", id.value()));
        }
      }

      SLUICE_TRY(int64_t order, take("order", static_cast<int64_t>(req.objects.size())));
      for (const auto& o : req.objects) {
        SLUICE_TRY(auto q, prepare(kCommitObject));
        q.bind(1, sql(o.id)).bind(2, static_cast<int64_t>(o.kind)).bind(3, sql(o.size));
        q.bind(4, o.data_time_ms > 0 ? o.data_time_ms : now_ms).bind(5, now_ms).bind(6, order++);
        SLUICE_TRY(q.run());
        for (const auto& r : o.ranges) {
          SLUICE_TRY(auto ins, prepare(kInsertRange));
          SLUICE_TRY(ins.bind(1, sql(o.id))
                         .bind(2, sql(r.stream))
                         .bind(3, r.start)
                         .bind(4, r.end)
                         .bind(5, sql(r.bytes))
                         .run());
          SLUICE_TRY(auto grow, prepare(kGrowRangeLen));
          SLUICE_TRY(grow.bind(1, sql(r.stream)).bind(2, r.end - r.start).run());
        }
      }
      for (const auto& id : req.compacted) {
        SLUICE_TRY(auto q, prepare(kMarkCompacted));
        SLUICE_TRY(q.bind(1, sql(id)).bind(2, now_ms).run());
      }
      for (const auto& [id, end] : req.stream_ends) {
        SLUICE_TRY(auto q, prepare(kAdvanceEnd));
        SLUICE_TRY(q.bind(1, sql(id)).bind(2, end.second).run());
      }
      return ok();
    });
  }

  result<std::vector<object_info>> objects_for(stream_id s, offset from, offset to, size_t limit) override {
    std::lock_guard lock(mu_);
    int64_t max_len = 0;
    {
      SLUICE_TRY(auto q, prepare(kGetRangeLen));
      SLUICE_TRY(bool row, q.bind(1, sql(s)).step());
      if (!row) return fail(errc::stream_not_found, fmt::format("stream {} not found", s.value()));
      max_len = q.i64(0);
    }
    std::vector<object_info> out;
    if (from >= to) return out;
    // Ranges start at >= 0 (commit checks), so 0 is as good a bound as any below it.
    int64_t lowest_start = from <= max_len ? 0 : from - max_len;
    SLUICE_TRY(auto q, prepare(kObjectsFor));
    q.bind(1, sql(s)).bind(2, lowest_start).bind(3, to).bind(4, from);
    for (;;) {
      SLUICE_TRY(bool row, q.step());
      if (!row) break;
      out.push_back(read_object(q));
      out.back().ranges.push_back(read_range(q));
      if (limit > 0 && out.size() >= limit) break;
    }
    return out;
  }

  result<std::vector<object_info>> list_objects(std::optional<object_state> state) override {
    std::lock_guard lock(mu_);
    SLUICE_TRY(auto q, prepare(state ? kListObjectsIn : kListObjects));
    if (state) q.bind(1, static_cast<int64_t>(*state));
    std::vector<object_info> out;
    for (;;) {
      SLUICE_TRY(bool row, q.step());
      if (!row) break;
      auto id = static_cast<uint64_t>(q.i64(0));
      if (out.empty() || out.back().id.value() != id) out.push_back(read_object(q));
      if (!q.is_null(7)) out.back().ranges.push_back(read_range(q));
    }
    return out;
  }

  result<uint32_t> expire_trimmed_objects(int64_t now_ms) override {
    std::lock_guard lock(mu_);
    return write([&]() -> result<uint32_t> {
      SLUICE_TRY(auto q, prepare(kExpireTrimmed));
      SLUICE_TRY(q.bind(1, now_ms).run());
      return static_cast<uint32_t>(sqlite3_changes(db_));
    });
  }

  result<uint32_t> expire_prepared(int64_t now_ms, std::chrono::milliseconds ttl) override {
    std::lock_guard lock(mu_);
    return write([&]() -> result<uint32_t> {
      SLUICE_TRY(auto q, prepare(kExpirePrepared));
      SLUICE_TRY(q.bind(1, now_ms).bind(2, minus(now_ms, ttl.count())).run());
      return static_cast<uint32_t>(sqlite3_changes(db_));
    });
  }

  result<std::vector<object_id>> deletable(int64_t now_ms, std::chrono::milliseconds grace) override {
    std::lock_guard lock(mu_);
    SLUICE_TRY(auto q, prepare(kDeletable));
    q.bind(1, minus(now_ms, grace.count()));
    std::vector<object_id> out;
    for (;;) {
      SLUICE_TRY(bool row, q.step());
      if (!row) break;
      out.emplace_back(static_cast<uint64_t>(q.i64(0)));
    }
    return out;
  }

  result<void> forget_objects(const std::vector<object_id>& ids) override {
    std::lock_guard lock(mu_);
    return write([&]() -> result<void> {
      for (const auto& id : ids) {
        auto state = object_state_of(id);
        if (!state && state.error().is(errc::object_not_found)) continue;
        if (!state) return fail(state.error());
        if (state.value() != object_state::deleting) {
          return fail(errc::bad_argument, fmt::format("forget_objects: object {} is not deleting (state {})",
                                                      id.value(), static_cast<int>(state.value())));
        }
        SLUICE_TRY(auto ranges, prepare(kForgetRanges));
        SLUICE_TRY(ranges.bind(1, sql(id)).run());
        SLUICE_TRY(auto object, prepare(kForgetObject));
        SLUICE_TRY(object.bind(1, sql(id)).run());
      }
      return ok();
    });
  }

  result<std::optional<std::string>> get(const std::string& key) override {
    std::lock_guard lock(mu_);
    SLUICE_TRY(auto q, prepare(kKvGet));
    SLUICE_TRY(bool row, q.bind_blob(1, key).step());
    if (!row) return std::optional<std::string>();
    return std::optional<std::string>(q.bytes(0));
  }

  result<void> put(const std::string& key, const std::string& value) override {
    std::lock_guard lock(mu_);
    return write([&]() -> result<void> {
      SLUICE_TRY(auto q, prepare(kKvPut));
      return q.bind_blob(1, key).bind_blob(2, value).run();
    });
  }

  result<void> erase(const std::string& key) override {
    std::lock_guard lock(mu_);
    return write([&]() -> result<void> {
      SLUICE_TRY(auto q, prepare(kKvErase));
      return q.bind_blob(1, key).run();
    });
  }

  result<std::vector<std::pair<std::string, std::string>>> scan(const std::string& prefix) override {
    auto upper = prefix_successor(prefix);
    std::lock_guard lock(mu_);
    SLUICE_TRY(auto q, prepare(upper ? kKvScan : kKvScanToEnd));
    q.bind_blob(1, prefix);
    if (upper) q.bind_blob(2, *upper);
    std::vector<std::pair<std::string, std::string>> out;
    for (;;) {
      SLUICE_TRY(bool row, q.step());
      if (!row) break;
      out.emplace_back(q.bytes(0), q.bytes(1));
    }
    return out;
  }

 private:
  result<query> prepare(std::string_view text) {
    auto it = cache_.find(text);
    if (it == cache_.end()) {
      sqlite3_stmt* s = nullptr;
      if (sqlite3_prepare_v3(db_, text.data(), static_cast<int>(text.size()), SQLITE_PREPARE_PERSISTENT, &s,
                             nullptr) != SQLITE_OK) {
        return fail(sqlite_error(db_, text));
      }
      it = cache_.emplace(text, s).first;
    }
    return query(db_, it->second, text);
  }

  // Runs a statement, calling f for each row (pragmas; not cached).
  template <class F>
  result<void> exec_rows(const char* text, F&& f) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db_, text, -1, &s, nullptr) != SQLITE_OK) return fail(sqlite_error(db_, text));
    result<void> r = ok();
    {
      query q(db_, s, text);
      for (;;) {
        auto row = q.step();
        if (!row) r = fail(row.error());
        if (!row || !row.value()) break;
        f(q);
      }
    }
    sqlite3_finalize(s);
    return r;
  }

  // Runs f in one write transaction (BEGIN IMMEDIATE: the write lock is taken
  // up front, so no deadlock-prone lock upgrade). Commits if f succeeds; with
  // synchronous=FULL the commit is on stable storage when COMMIT returns.
  // Rolls back on any failure. Caller holds mu_.
  template <class F>
  auto write(F&& f) -> std::invoke_result_t<F&> {
    {
      SLUICE_TRY(auto q, prepare(kBegin));
      SLUICE_TRY(q.run());
    }
    auto r = f();
    if (r) {
      auto q = prepare(kCommit);
      auto c = q ? q.value().run() : result<void>(fail(q.error()));
      if (c) return r;
      rollback();
      return fail(c.error());
    }
    rollback();
    return r;
  }

  void rollback() {
    // A failed statement may have rolled the transaction back already.
    if (sqlite3_get_autocommit(db_)) return;
    if (auto q = prepare(kRollback)) (void)q.value().run();
  }

  result<void> create_schema() {
    char* msg = nullptr;
    if (sqlite3_exec(db_, std::string(kSchema).c_str(), nullptr, nullptr, &msg) != SQLITE_OK) {
      std::string m = msg ? msg : "?";
      sqlite3_free(msg);
      return fail(errc::meta_error, "sqlite: create schema: " + m);
    }
    SLUICE_TRY(
        exec_rows(fmt::format("PRAGMA application_id={}", kApplicationId).c_str(), [](const query&) {}));
    return exec_rows(fmt::format("PRAGMA user_version={}", kSchemaVersion).c_str(), [](const query&) {});
  }

  result<int64_t> counter(const char* name) {
    SLUICE_TRY(auto q, prepare(kGetCounter));
    SLUICE_TRY(bool row, q.bind_text(1, name).step());
    if (!row) return fail(errc::meta_error, fmt::format("counter {} missing", name));
    return q.i64(0);
  }

  // Takes n consecutive values of a counter; returns the first.
  result<int64_t> take(const char* name, int64_t n) {
    SLUICE_TRY(int64_t first, counter(name));
    SLUICE_TRY(auto q, prepare(kSetCounter));
    SLUICE_TRY(q.bind_text(1, name).bind(2, first + n).run());
    return first;
  }

  result<stream_info> load_stream(stream_id id) {
    SLUICE_TRY(auto q, prepare(kGetStream));
    SLUICE_TRY(bool row, q.bind(1, sql(id)).step());
    if (!row) return fail(errc::stream_not_found, fmt::format("stream {} not found", id.value()));
    return read_stream(q);
  }

  // The stream, if e is its current epoch.
  result<stream_info> load_current(stream_id id, stream::epoch e) {
    SLUICE_TRY(auto s, load_stream(id));
    if (s.epoch != e) return fail(fenced(id, e, s.epoch));
    return s;
  }

  result<void> store_stream(const stream_info& s) {
    SLUICE_TRY(auto q, prepare(kUpdateStream));
    q.bind(1, sql(s.id)).bind(2, sql(s.epoch)).bind(3, static_cast<int64_t>(s.state)).bind(4, sql(s.owner));
    return q.bind(5, s.start).bind(6, s.end).run();
  }

  result<std::vector<stream_info>> read_streams(query& q) {
    std::vector<stream_info> out;
    for (;;) {
      SLUICE_TRY(bool row, q.step());
      if (!row) return out;
      SLUICE_TRY(auto s, read_stream(q));
      out.push_back(std::move(s));
    }
  }

  result<object_state> object_state_of(object_id id) {
    SLUICE_TRY(auto q, prepare(kGetObjectState));
    SLUICE_TRY(bool row, q.bind(1, sql(id)).step());
    if (!row) return fail(errc::object_not_found, fmt::format("object {} not found", id.value()));
    return static_cast<object_state>(q.i64(0));
  }

  std::mutex mu_;  // guards the connection and the statement cache
  sqlite3* db_;
  std::unordered_map<std::string_view, sqlite3_stmt*> cache_;  // keys: the static SQL texts above
};

}  // namespace

result<std::unique_ptr<meta_store>> open_sqlite(const std::string& path) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    auto e = sqlite_error(db, "open " + path);
    sqlite3_close_v2(db);
    return fail(std::move(e));
  }
  auto store = std::make_unique<sqlite_meta_store>(db);  // owns db from here
  bool durable = path != kMemoryPath;
  if (auto r = store->init(durable); !r) {
    return fail(errc::meta_error, fmt::format("{}: {}", path, r.error().message()));
  }
  if (durable) {
    // The database and -wal files' directory entries (SQLite syncs the
    // directory of a new WAL file, not of the database file).
    if (auto r = fs::fsync_dir(fs::parent_path(path)); !r) {
      return fail(errc::meta_error, fmt::format("{}: {}", path, r.error().message()));
    }
  }
  return std::unique_ptr<meta_store>(std::move(store));
}

}  // namespace sluice::stream::meta
