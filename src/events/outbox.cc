// The durable outbox on SQLite (outbox.h; format and guarantees:
// docs/NOTIFICATIONS.md).
#include "events/outbox.h"

#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>

#include "base/crypto.h"
#include "base/encoding.h"
#include "base/fs.h"
#include "base/thread.h"

namespace sluice::events {

namespace {

// PRAGMA application_id: marks the file as a Sluice outbox ("SlO1").
constexpr int32_t kApplicationId = 0x536c4f31;
// Bump on every schema change, with a migration from the previous version.
constexpr int kSchemaVersion = 1;
// How long a statement waits for a lock held by another connection (the
// other connection of this outbox, or an operator's sqlite3 shell).
constexpr int kBusyTimeoutMs = 10'000;
// Once the WAL holds this many pages after a commit, the writer thread
// checkpoints it in RESTART mode (copying it into the database file, with
// its fsync) before its next commit, so that the next commit starts the WAL
// over from its beginning. Passive checkpoints alone never get that far
// while commits keep coming (each adds frames before the WAL could be
// reset): under a steady load of notified PUTs the WAL grew by ~14 MB a
// second, and every commit's fdatasync also wrote the grown file's inode.
// Restarted, the WAL stays at its size and commits overwrite it in place.
constexpr int kCheckpointPages = 1000;
// How long the RESTART waits for a reader still on an old snapshot (the
// delivery threads' reads are short; an operator's sqlite3 shell may not
// be): past it the checkpoint copies what it can, and the next try waits
// kCheckpointRetry, so that a long reader does not cost every commit the
// wait.
constexpr int kCheckpointBusyMs = 50;
constexpr auto kCheckpointRetry = std::chrono::seconds(1);
// How long begun appends (begin_append) may wait for others before their
// commit starts, while nobody waits for them (outbox::run).
constexpr auto kLinger = std::chrono::milliseconds(2);

// `events` is clustered by (target, seq) (WITHOUT ROWID): a target's next
// batch is one contiguous range scan, and a delivered prefix one range delete.
constexpr std::string_view kSchema = R"sql(
CREATE TABLE IF NOT EXISTS outbox_meta (
  name TEXT PRIMARY KEY,
  value ANY NOT NULL
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
  target TEXT NOT NULL,
  seq INTEGER NOT NULL,
  event_id TEXT NOT NULL,
  msg_key BLOB NOT NULL,
  value BLOB NOT NULL,
  PRIMARY KEY (target, seq)
) STRICT, WITHOUT ROWID;
)sql";

constexpr std::string_view kInsert =
    "INSERT INTO events (target, seq, event_id, msg_key, value) VALUES (?1, ?2, ?3, ?4, ?5)";
constexpr std::string_view kSaveSeq = "UPDATE outbox_meta SET value = ?1 WHERE name = 'next_seq'";
constexpr std::string_view kRead =
    "SELECT seq, event_id, msg_key, value FROM events WHERE target = ?1 AND seq > ?2 AND seq < ?4 ORDER BY seq "
    "LIMIT ?3";
constexpr std::string_view kMeasure =
    "SELECT count(*), total(length(event_id) + length(msg_key) + length(value)) FROM events "
    "WHERE target = ?1 AND seq <= ?2";
constexpr std::string_view kDelete = "DELETE FROM events WHERE target = ?1 AND seq <= ?2";
constexpr std::string_view kDeleteOne = "DELETE FROM events WHERE target = ?1 AND seq = ?2";
constexpr std::string_view kUsage =
    "SELECT target, count(*), total(length(event_id) + length(msg_key) + length(value)) FROM events "
    "GROUP BY target";

uint64_t row_bytes(std::string_view id, std::string_view key, std::string_view value) {
  return id.size() + key.size() + value.size();
}

error db_error(sqlite3* db, std::string_view what) {
  return error(errc::io_error, "outbox: sqlite: " + std::string(what) + ": " +
                                   (db ? std::string(sqlite3_errmsg(db)) + " (code " +
                                             std::to_string(sqlite3_extended_errcode(db)) + ")"
                                       : std::string("out of memory")));
}

result<void> exec(sqlite3* db, std::string_view sql) {
  if (sqlite3_exec(db, std::string(sql).c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) {
    return fail(db_error(db, sql));
  }
  return ok();
}

void bind_int(sqlite3_stmt* s, int i, int64_t v) {
  sqlite3_bind_int64(s, i, v);
}
void bind_blob(sqlite3_stmt* s, int i, std::string_view v) {
  // A non-null pointer even for "": an empty blob, not NULL (columns are NOT NULL).
  sqlite3_bind_blob64(s, i, v.data() ? v.data() : "", v.size(), SQLITE_STATIC);
}
void bind_text(sqlite3_stmt* s, int i, std::string_view v) {
  sqlite3_bind_text64(s, i, v.data() ? v.data() : "", v.size(), SQLITE_STATIC, SQLITE_UTF8);
}

std::string column(sqlite3_stmt* s, int col) {
  const void* p = sqlite3_column_blob(s, col);
  const int n = sqlite3_column_bytes(s, col);
  return p ? std::string(static_cast<const char*>(p), static_cast<size_t>(n)) : std::string();
}

// Steps a statement that returns no rows (or whose rows are ignored).
result<void> step_all(sqlite3* db, sqlite3_stmt* s, std::string_view what) {
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
  }
  if (rc != SQLITE_DONE) return fail(db_error(db, what));
  return ok();
}

// Starts the write transaction. SQLite waits for a write lock held by
// another connection (the busy timeout) but answers SQLITE_BUSY at once when
// the connection still holds a read transaction on a stale snapshot (seen
// in a benchmark: a notified S3 PUT failed with "database is locked" within
// 20 ms; the cause, two statements of open() left running, is fixed there).
// As a guard, nothing having been applied yet, a busy answer is retried with
// short sleeps up to the busy timeout.
result<void> begin_immediate(sqlite3* db) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kBusyTimeoutMs);
  for (int attempt = 0;; ++attempt) {
    auto r = exec(db, "BEGIN IMMEDIATE");
    if (r || (sqlite3_extended_errcode(db) & 0xff) != SQLITE_BUSY ||
        std::chrono::steady_clock::now() >= deadline) {
      return r;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(100 << std::min(attempt, 9)));
  }
}

result<sqlite3*> open_db(const std::string& path) {
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &db,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    error e = db_error(db, "open " + path);
    sqlite3_close(db);
    return fail(e);
  }
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  // synchronous=FULL in WAL mode: every COMMIT fsyncs the WAL before it
  // returns, so a committed event survives a crash of the process and of the
  // machine.
  for (std::string_view pragma : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL"}) {
    if (auto r = exec(db, pragma); !r) {
      sqlite3_close(db);
      return fail(r.error());
    }
  }
  return db;
}

}  // namespace

struct outbox::op {
  enum class kind { append, remove, cancel };
  kind what = kind::append;
  const std::vector<outbox_entry>* entries = nullptr;  // append, cancel: the rows
  bool hold = false;                                   // append: keep the rows from read() (begin_append)
  std::vector<std::string> ids;                        // append: the event ids given
  std::vector<uint64_t> seqs;                          // append: their seqs; cancel: the rows' seqs
  std::string target;                                  // remove
  uint64_t through = 0;                                // remove
  std::optional<error> err;
  bool done = false;
  bool waited = false;  // begun append: its end_append is waiting for the commit
  bool owned = false;  // the writer deletes it once committed (nobody waits)
  uint64_t queued_bytes = 0;                     // append_queued: its share of queued_bytes_
  std::function<void()> committed;               // append_queued: run once its rows are committed
  std::chrono::steady_clock::time_point queued;  // when it joined pending_
  std::vector<outbox_entry> own_entries;  // cancel: the rows' entries, moved from the ticket
};

// A two-phase append (begin_append): its op and the entries it points to.
class outbox::ticket {
 public:
  std::vector<outbox_entry> entries;
  op o;
  bool ended = false;
};

// Prepared statements are cached by their text and finalized before the
// connection closes.
struct outbox::connection {
  sqlite3* db = nullptr;
  std::unordered_map<std::string_view, sqlite3_stmt*> cache;

  ~connection() {
    for (auto& [sql, s] : cache) sqlite3_finalize(s);
    sqlite3_close(db);
  }
  // Resets every cached statement: none keeps a read transaction open.
  void reset_all() {
    for (auto& [sql, s] : cache) sqlite3_reset(s);
  }
  // Statements of this connection that are running (stepped, not yet done
  // or reset): each holds a read transaction open.
  int busy_statements() const {
    int n = 0;
    for (sqlite3_stmt* s = sqlite3_next_stmt(db, nullptr); s != nullptr; s = sqlite3_next_stmt(db, s)) {
      n += sqlite3_stmt_busy(s) ? 1 : 0;
    }
    return n;
  }
  // The statement, reset and unbound, ready for binding.
  result<sqlite3_stmt*> get(std::string_view sql) {
    auto it = cache.find(sql);
    if (it == cache.end()) {
      sqlite3_stmt* s = nullptr;
      if (sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &s,
                             nullptr) != SQLITE_OK) {
        return fail(db_error(db, sql));
      }
      it = cache.emplace(sql, s).first;
    }
    sqlite3_reset(it->second);
    sqlite3_clear_bindings(it->second);
    return it->second;
  }
};

outbox::outbox() : w_(std::make_unique<connection>()), r_(std::make_unique<connection>()) {}

result<std::unique_ptr<outbox>> outbox::open(const std::string& dir) {
  SLUICE_TRY(fs::mkdirs(dir));
  const std::string path = fs::join(dir, "outbox.db");
  std::unique_ptr<outbox> o(new outbox());
  SLUICE_TRY(o->w_->db, open_db(path));
  SLUICE_TRY(o->r_->db, open_db(path));
  connection& w = *o->w_;
  sqlite3* db = w.db;
  SLUICE_TRY(exec(db, "BEGIN IMMEDIATE"));
  auto setup = [&]() -> result<void> {
    sqlite3_stmt* s = nullptr;
    SLUICE_TRY(s, w.get("PRAGMA application_id"));
    int64_t app = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    SLUICE_TRY(s, w.get("PRAGMA user_version"));
    int64_t version = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    if (app != 0 && app != kApplicationId)
      return fail(errc::io_error, "outbox: " + path + " is not a Sluice outbox");
    if (version > kSchemaVersion) {
      return fail(errc::io_error, "outbox: " + path + " has schema version " + std::to_string(version) +
                                      ", newer than this program's " + std::to_string(kSchemaVersion));
    }
    SLUICE_TRY(exec(db, kSchema));
    if (version == 0) {
      SLUICE_TRY(exec(db, "PRAGMA application_id=" + std::to_string(kApplicationId)));
      SLUICE_TRY(exec(db, "PRAGMA user_version=" + std::to_string(kSchemaVersion)));
      const std::string id = to_hex(random_bytes(8));
      SLUICE_TRY(
          exec(db, "INSERT INTO outbox_meta (name, value) VALUES ('id', '" + id + "'), ('next_seq', 1)"));
    }
    SLUICE_TRY(s, w.get("SELECT name, value FROM outbox_meta"));
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
      const std::string name = column(s, 0);
      if (name == "id") o->id_ = column(s, 1);
      if (name == "next_seq") o->next_seq_ = static_cast<uint64_t>(sqlite3_column_int64(s, 1));
    }
    if (rc != SQLITE_DONE) return fail(db_error(db, "read outbox_meta"));
    if (o->id_.empty()) return fail(errc::io_error, "outbox: " + path + " has no id");
    // Usage per target, and a seq above every stored one (the counter is
    // saved in the same transactions as the rows, so this only guards
    // against a hand-edited file).
    SLUICE_TRY(s, w.get(kUsage));
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
      outbox_usage u{static_cast<uint64_t>(sqlite3_column_int64(s, 1)),
                     static_cast<uint64_t>(sqlite3_column_double(s, 2))};
      o->usage_[column(s, 0)] = u;
      o->total_.events += u.events;
      o->total_.bytes += u.bytes;
    }
    if (rc != SQLITE_DONE) return fail(db_error(db, kUsage));
    SLUICE_TRY(s, w.get("SELECT max(seq) FROM events"));
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL) {
      o->next_seq_ = std::max(o->next_seq_, static_cast<uint64_t>(sqlite3_column_int64(s, 0)) + 1);
    }
    sqlite3_reset(s);
    return ok();
  };
  auto r = setup();
  // No statement stays running: an active statement keeps the connection in
  // a read transaction after COMMIT, and SQLite answers a later BEGIN
  // IMMEDIATE on such a connection with SQLITE_BUSY at once, without its
  // busy handler, whenever that old snapshot is stale.
  w.reset_all();
  if (!r) {
    (void)exec(db, "ROLLBACK");
    return fail(r.error());
  }
  SLUICE_TRY(exec(db, "COMMIT"));
  o->writer_busy_.store(w.busy_statements(), std::memory_order_relaxed);
  sqlite3_wal_hook(
      db,
      [](void* arg, sqlite3*, const char*, int pages) -> int {
        static_cast<outbox*>(arg)->wal_pages_.store(pages, std::memory_order_relaxed);
        return SQLITE_OK;
      },
      o.get());
  o->writer_ = named_thread("outbox-writer", [p = o.get()] { p->run(); });
  return o;
}

outbox::~outbox() {
  stop();  // then the connections close (members)
}

void outbox::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  done_cv_.notify_all();  // append_queued calls waiting for room
  if (writer_.joinable()) writer_.join();
}

// An op that does not end the writer's linger (held, queued or cancelling:
// nobody waits for it) wakes the writer only when the writer waits for work:
// a wake during the linger would only be a context switch for nothing, one
// per notified request.
void outbox::push_lingering(op* o) {
  const bool idle = pending_.empty();
  pending_.push_back(o);
  if (idle) work_cv_.notify_one();
}

result<void> outbox::submit(op& o) {
  std::unique_lock lock(mu_);
  if (stopping_) return fail(errc::closed, "outbox: stopping");
  o.queued = std::chrono::steady_clock::now();
  pending_.push_back(&o);
  work_cv_.notify_one();
  done_cv_.wait(lock, [&] { return o.done; });
  if (o.err) return fail(*o.err);
  return ok();
}

result<std::vector<std::string>> outbox::append(const std::vector<outbox_entry>& entries) {
  op o;
  o.entries = &entries;
  SLUICE_TRY(submit(o));
  return std::move(o.ids);
}

result<void> outbox::append_queued(std::vector<outbox_entry> entries, std::function<void()> committed) {
  auto o = std::make_unique<op>();
  o->owned = true;
  o->committed = std::move(committed);
  o->own_entries = std::move(entries);
  o->entries = &o->own_entries;
  for (const auto& e : o->own_entries) o->queued_bytes += row_bytes({}, e.key, e.value) + 1;
  std::unique_lock lock(mu_);
  done_cv_.wait(lock, [&] { return stopping_ || queued_bytes_ < kMaxQueuedBytes; });
  if (stopping_) return fail(errc::closed, "outbox: stopping");
  queued_bytes_ += o->queued_bytes;
  o->queued = std::chrono::steady_clock::now();
  push_lingering(o.release());
  return ok();
}

int outbox::busy_statements() const {
  std::lock_guard lock(read_mu_);
  return writer_busy_.load(std::memory_order_relaxed) + r_->busy_statements();
}

uint64_t outbox::queued_bytes() const {
  std::lock_guard lock(mu_);
  return queued_bytes_;
}

result<std::shared_ptr<outbox::ticket>> outbox::begin_append(std::vector<outbox_entry> entries) {
  auto t = std::make_shared<ticket>();
  t->entries = std::move(entries);
  t->o.entries = &t->entries;
  t->o.hold = true;
  std::lock_guard lock(mu_);
  if (stopping_) return fail(errc::closed, "outbox: stopping");
  t->o.queued = std::chrono::steady_clock::now();
  push_lingering(&t->o);
  return t;
}

result<std::vector<std::string>> outbox::end_append(ticket& t, bool landed) {
  std::unique_lock lock(mu_);
  if (!t.o.done) {
    t.o.waited = true;
    work_cv_.notify_one();
    done_cv_.wait(lock, [&] { return t.o.done; });
  }
  if (t.ended) return fail(errc::closed, "outbox: append already ended");
  t.ended = true;
  if (t.o.err) return fail(*t.o.err);  // nothing was committed, nothing is held
  if (landed) {
    for (uint64_t s : t.o.seqs) held_.erase(s);
    return std::move(t.o.ids);
  }
  // Delete the rows; they stay held (unread) until that is committed. When
  // the outbox is stopping they stay in the file and are read after a
  // restart like the rows of any write in flight at a crash.
  if (stopping_ || t.o.seqs.empty()) {
    for (uint64_t s : t.o.seqs) held_.erase(s);
    return std::vector<std::string>{};
  }
  auto* c = new op;
  c->what = op::kind::cancel;
  c->owned = true;
  c->seqs = std::move(t.o.seqs);
  c->ids = std::move(t.o.ids);
  c->own_entries = std::move(t.entries);  // their targets and sizes say which rows to delete
  c->entries = &c->own_entries;
  c->queued = std::chrono::steady_clock::now();
  push_lingering(c);
  return std::vector<std::string>{};
}

result<void> outbox::remove(const std::string& target, uint64_t through) {
  op o;
  o.what = op::kind::remove;
  o.target = target;
  o.through = through;
  return submit(o);
}

void outbox::run() {
  for (;;) {
    std::deque<op*> batch;
    {
      std::unique_lock lock(mu_);
      work_cv_.wait(lock, [&] { return stopping_ || !pending_.empty(); });
      if (pending_.empty()) return;  // stopping, and everything submitted is committed
      // Begun appends nobody waits for yet (their writes are still being
      // committed by the store) and queued appends (append_queued) may wait
      // for company, up to kLinger: under
      // load more of them share one fsync, and the device, busy with the
      // store's own fsyncs, gets fewer. The linger ends when someone waits for
      // a pending op (a waiter for the batch committed before does not count:
      // it may not have woken up yet).
      const auto deadline = pending_.front()->queued + kLinger;
      work_cv_.wait_until(lock, deadline, [&] {
        return stopping_ || std::any_of(pending_.begin(), pending_.end(),
                                        [](const op* o) { return (!o->hold && !o->owned) || o->waited; });
      });
      batch.swap(pending_);
    }
    (void)commit(batch);
    writer_busy_.store(w_->busy_statements(), std::memory_order_relaxed);
    done_cv_.notify_all();
    if (wal_pages_.load(std::memory_order_relaxed) >= kCheckpointPages &&
        std::chrono::steady_clock::now() >= next_checkpoint_) {
      checkpoint();
    }
  }
}

// Between commits, on the writer's connection (see kCheckpointPages).
void outbox::checkpoint() {
  sqlite3_busy_timeout(w_->db, kCheckpointBusyMs);
  int log_pages = 0, done_pages = 0;
  const int rc =
      sqlite3_wal_checkpoint_v2(w_->db, nullptr, SQLITE_CHECKPOINT_RESTART, &log_pages, &done_pages);
  sqlite3_busy_timeout(w_->db, kBusyTimeoutMs);
  if (rc == SQLITE_OK) {
    wal_pages_.store(0, std::memory_order_relaxed);
    std::lock_guard lock(mu_);
    ++checkpoints_;
    return;
  }
  next_checkpoint_ = std::chrono::steady_clock::now() + kCheckpointRetry;
  if ((rc & 0xff) != SQLITE_BUSY) {
    spdlog::warn("outbox: checkpoint: {}", db_error(w_->db, "wal_checkpoint").message());
  }
}

// One transaction for every op of the batch, so the batch costs one fsync.
// If any statement fails the whole transaction is rolled back and every op
// of the batch fails with that error: the callers' requests fail rather than
// claim a durability they do not have.
result<void> outbox::commit(std::deque<op*>& ops) {
  const uint64_t first_seq = next_seq_;
  std::map<std::string, outbox_usage> added, removed;
  // Deletes alone need no fsync: if they are lost in a crash the events are
  // sent again (at-least-once), and the next appending commit's fsync covers
  // them anyway (WAL frames are written in order).
  const bool needs_sync =
      std::any_of(ops.begin(), ops.end(), [](const op* o) { return o->what == op::kind::append; });
  std::vector<uint64_t> newly_held;
  auto attempt = [&]() -> result<void> {
    if (needs_sync != synced_) {
      SLUICE_TRY(exec(w_->db, needs_sync ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL"));
      synced_ = needs_sync;
    }
    SLUICE_TRY(begin_immediate(w_->db));
    for (op* o : ops) {
      if (auto r = apply(*o, added, removed); !r) {
        (void)exec(w_->db, "ROLLBACK");
        return r;
      }
    }
    if (next_seq_ != first_seq) {
      SLUICE_TRY(auto s, w_->get(kSaveSeq));
      bind_int(s, 1, static_cast<int64_t>(next_seq_));
      if (auto r = step_all(w_->db, s, kSaveSeq); !r) {
        (void)exec(w_->db, "ROLLBACK");
        return r;
      }
    }
    // Held rows are registered before they become visible to readers.
    {
      std::lock_guard lock(mu_);
      for (const op* o : ops) {
        if (o->what != op::kind::append || !o->hold) continue;
        for (size_t i = 0; i < o->seqs.size(); ++i) {
          newly_held.push_back(o->seqs[i]);
          held_[o->seqs[i]] = (*o->entries)[i].targets;
        }
      }
    }
    if (auto r = exec(w_->db, "COMMIT"); !r) {
      (void)exec(w_->db, "ROLLBACK");
      return r;
    }
    return ok();
  };
  auto r = attempt();
  // A cancelled row leaves held_ only once no read() can still see it: a
  // read that began before the delete committed finishes first.
  const bool cancels =
      std::any_of(ops.begin(), ops.end(), [](const op* o) { return o->what == op::kind::cancel; });
  std::unique_lock<std::mutex> read_lock;
  if (cancels) read_lock = std::unique_lock(read_mu_);
  std::unique_lock lock(mu_);
  if (!r) {
    next_seq_ = first_seq;
    for (uint64_t s : newly_held) held_.erase(s);
    std::vector<op*> owned;
    for (op* o : ops) {
      o->err = r.error();
      o->ids.clear();
      if (o->what == op::kind::cancel) {
        // The rows stay in the file; rather than hold back the target's
        // events forever, they are delivered (as after a crash).
        for (uint64_t s : o->seqs) held_.erase(s);
      } else {
        o->seqs.clear();
      }
      o->done = true;
      if (o->owned) owned.push_back(o);
      if (o->queued_bytes != 0) {
        queued_bytes_ -= o->queued_bytes;
        spdlog::error("outbox: {} queued event(s) of reads lost: {}", o->entries->size(),
                      r.error().message());
      }
    }
    lock.unlock();
    for (op* o : owned) delete o;
    return r;
  }
  for (const auto& [t, u] : added) {
    usage_[t].events += u.events;
    usage_[t].bytes += u.bytes;
    total_.events += u.events;
    total_.bytes += u.bytes;
  }
  for (const auto& [t, u] : removed) {
    auto it = usage_.find(t);
    if (it == usage_.end()) continue;
    it->second.events -= std::min(it->second.events, u.events);
    it->second.bytes -= std::min(it->second.bytes, u.bytes);
    total_.events -= std::min(total_.events, u.events);
    total_.bytes -= std::min(total_.bytes, u.bytes);
    if (it->second.events == 0) usage_.erase(it);
  }
  std::vector<op*> owned;
  for (op* o : ops) {
    if (o->what == op::kind::cancel) {
      for (uint64_t s : o->seqs) held_.erase(s);
    }
    o->done = true;
    if (o->owned) owned.push_back(o);
    queued_bytes_ -= o->queued_bytes;
  }
  ++commits_;
  lock.unlock();
  for (op* o : owned) {
    if (o->committed) o->committed();
    delete o;
  }
  return ok();
}

result<void> outbox::apply(op& o, std::map<std::string, outbox_usage>& added,
                           std::map<std::string, outbox_usage>& removed) {
  connection& st = *w_;
  if (o.what == op::kind::cancel) {
    for (size_t i = 0; i < o.entries->size() && i < o.seqs.size(); ++i) {
      const auto& e = (*o.entries)[i];
      std::set<std::string_view> seen;
      for (const auto& t : e.targets) {
        if (!seen.insert(t).second) continue;
        SLUICE_TRY(auto d, st.get(kDeleteOne));
        bind_text(d, 1, t);
        bind_int(d, 2, static_cast<int64_t>(o.seqs[i]));
        SLUICE_TRY(step_all(w_->db, d, kDeleteOne));
        if (sqlite3_changes(w_->db) == 0) continue;
        auto& u = removed[t];
        u.events += 1;
        u.bytes += row_bytes(o.ids[i], e.key, e.value);
      }
    }
    return ok();
  }
  if (o.what == op::kind::remove) {
    SLUICE_TRY(auto m, st.get(kMeasure));
    bind_text(m, 1, o.target);
    bind_int(m, 2, static_cast<int64_t>(o.through));
    if (sqlite3_step(m) != SQLITE_ROW) return fail(db_error(w_->db, kMeasure));
    auto& u = removed[o.target];
    u.events += static_cast<uint64_t>(sqlite3_column_int64(m, 0));
    u.bytes += static_cast<uint64_t>(sqlite3_column_double(m, 1));
    sqlite3_reset(m);
    SLUICE_TRY(auto d, st.get(kDelete));
    bind_text(d, 1, o.target);
    bind_int(d, 2, static_cast<int64_t>(o.through));
    return step_all(w_->db, d, kDelete);
  }
  o.ids.clear();
  o.ids.reserve(o.entries->size());
  o.seqs.clear();
  o.seqs.reserve(o.entries->size());
  for (const auto& e : *o.entries) {
    const uint64_t seq = next_seq_++;
    o.seqs.push_back(seq);
    o.ids.push_back(id_ + "-" + std::to_string(seq));
    const std::string& id = o.ids.back();
    std::set<std::string_view> seen;
    for (const auto& t : e.targets) {
      if (!seen.insert(t).second) continue;
      SLUICE_TRY(auto s, st.get(kInsert));
      bind_text(s, 1, t);
      bind_int(s, 2, static_cast<int64_t>(seq));
      bind_text(s, 3, id);
      bind_blob(s, 4, e.key);
      bind_blob(s, 5, e.value);
      SLUICE_TRY(step_all(w_->db, s, kInsert));
      auto& u = added[t];
      u.events += 1;
      u.bytes += row_bytes(id, e.key, e.value);
    }
  }
  return ok();
}

result<std::vector<stored_event>> outbox::read(const std::string& target, uint64_t after, size_t max_events,
                                               uint64_t max_bytes) {
  std::lock_guard lock(read_mu_);
  SLUICE_TRY(auto s, r_->get(kRead));
  bind_text(s, 1, target);
  bind_int(s, 2, static_cast<int64_t>(after));
  bind_int(s, 3, static_cast<int64_t>(std::max<size_t>(max_events, 1)));
  bind_int(s, 4, static_cast<int64_t>(first_held(target)));
  std::vector<stored_event> out;
  uint64_t bytes = 0;
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    stored_event e;
    e.seq = static_cast<uint64_t>(sqlite3_column_int64(s, 0));
    e.event_id = column(s, 1);
    e.key = column(s, 2);
    e.value = column(s, 3);
    const uint64_t n = row_bytes(e.event_id, e.key, e.value);
    if (!out.empty() && bytes + n > max_bytes) break;
    bytes += n;
    out.push_back(std::move(e));
  }
  // Ends the read transaction now, so checkpoints can reset the WAL.
  sqlite3_reset(s);
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) return fail(db_error(r_->db, kRead));
  // Rows held while the query ran (registered before their commit, so a row
  // the query saw that is held is held now): stop before the first.
  const uint64_t cap = first_held(target);
  while (!out.empty() && out.back().seq >= cap) out.pop_back();
  return out;
}

outbox_usage outbox::usage() const {
  std::lock_guard lock(mu_);
  return total_;
}

outbox_usage outbox::usage(const std::string& target) const {
  std::lock_guard lock(mu_);
  auto it = usage_.find(target);
  return it == usage_.end() ? outbox_usage{} : it->second;
}

uint64_t outbox::first_held(const std::string& target) const {
  std::lock_guard lock(mu_);
  for (const auto& [seq, targets] : held_) {
    if (std::find(targets.begin(), targets.end(), target) != targets.end()) return seq;
  }
  return static_cast<uint64_t>(INT64_MAX);
}

uint64_t outbox::commits() const {
  std::lock_guard lock(mu_);
  return commits_;
}

uint64_t outbox::checkpoints() const {
  std::lock_guard lock(mu_);
  return checkpoints_;
}

std::map<std::string, outbox_usage> outbox::usage_by_target() const {
  std::lock_guard lock(mu_);
  return usage_;
}

}  // namespace sluice::events
