#pragma once
// The durable outbox of bucket events: one SQLite database (WAL journal,
// synchronous=FULL) holding, per target ARN, the events not yet delivered to
// it, in the order they were accepted. Layout and guarantees:
// docs/NOTIFICATIONS.md.
//
// Writes (append, remove) go through one writer thread that commits whatever
// is pending in one transaction (group commit): many concurrent appends cost
// one fsync, and each caller returns only once its own rows are on stable
// storage. Reads use a second connection and never wait for a commit.
//
// Event ids: every appended event gets seq, a counter kept in the database
// (never reused, also after every row was delivered and deleted), and the
// event id "<outbox id>-<seq>", where the outbox id is 16 random hex digits
// chosen when the database was created. The same event sent to several
// targets has the same id (and seq) in each.
//
// Threading: every method may be called from any thread. Errors: io_error
// with SQLite's message (nothing of the failed call was committed), closed
// once stop() ran.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/result.h"
#include "events/errc.h"

namespace sluice::events {

// One event to append: the same key and value go to every listed target.
struct outbox_entry {
  std::vector<std::string> targets;  // ARNs, each at most once
  std::string key;                   // Kafka message key ("bucket/object")
  std::string value;                 // the event JSON
};

// A stored event of one target.
struct stored_event {
  uint64_t seq = 0;
  std::string event_id;
  std::string key;
  std::string value;
};

struct outbox_usage {
  uint64_t events = 0;
  uint64_t bytes = 0;  // key + value + event id bytes, not counting SQLite's overhead
};

class outbox {
 public:
  // Opens or creates <dir>/outbox.db (dir is created when missing).
  static result<std::unique_ptr<outbox>> open(const std::string& dir);
  ~outbox();
  outbox(const outbox&) = delete;
  outbox& operator=(const outbox&) = delete;

  // Appends the entries (in order) and returns their event ids once they are
  // committed and fsynced. Entries without targets get an id but no row.
  result<std::vector<std::string>> append(const std::vector<outbox_entry>& entries);
  // The target's events with seq > after, in seq order: at most max_events,
  // and no more than max_bytes except that the first is always returned.
  result<std::vector<stored_event>> read(const std::string& target, uint64_t after, size_t max_events,
                                         uint64_t max_bytes);
  // Queues the entries for the next commit and returns without waiting for
  // it (no event id): for the events of reads (GET, HEAD), whose answer need
  // not wait for an fsync. The rows are committed like append's, in the order
  // calls were made relative to every other append, normally within a few
  // milliseconds; a crash before that commit loses them, and so does a failed
  // commit (logged). Bounded: while kMaxQueuedBytes of queued rows wait for
  // their commit, the call waits too.
  static constexpr uint64_t kMaxQueuedBytes = 16 << 20;
  // `committed` (optional) runs on the writer thread once the rows are
  // committed (readable), e.g. to wake the delivery threads; not after a
  // failed commit.
  result<void> append_queued(std::vector<outbox_entry> entries, std::function<void()> committed = {});
  // Bytes of append_queued rows not yet committed.
  uint64_t queued_bytes() const;
  // Statements left running on the outbox's connections (diagnostics and
  // tests): the writer's as of its last commit, the readers' now. 0 unless
  // something leaks a statement: a running statement keeps a read
  // transaction, and its snapshot, open.
  int busy_statements() const;
  // Two-phase append, for the events of a change that is committed while
  // their rows are written, so the outbox's fsync overlaps the store's:
  // begin_append queues the entries and returns at once. Their rows are
  // committed like append's but held back from read() until end_append.
  // end_append waits for that commit and returns the event ids; landed=false
  // (the change failed) deletes the rows instead, and read() never returns
  // them. After a crash, rows of changes that were in flight are read like
  // the others (their ends were never recorded): see docs/NOTIFICATIONS.md.
  // end_append must be called exactly once per ticket.
  class ticket;
  result<std::shared_ptr<ticket>> begin_append(std::vector<outbox_entry> entries);
  result<std::vector<std::string>> end_append(ticket& t, bool landed);

  // Deletes the target's events with seq <= through (delivered); returns once
  // that is committed (not fsynced: delivered events may be sent again after
  // a crash).
  result<void> remove(const std::string& target, uint64_t through);

  outbox_usage usage() const;
  outbox_usage usage(const std::string& target) const;
  // Every target that has events queued.
  std::map<std::string, outbox_usage> usage_by_target() const;
  const std::string& id() const { return id_; }
  // Transactions committed since open: one per group of concurrent calls.
  uint64_t commits() const;
  // Completed RESTART checkpoints since open (each lets the next commit
  // start the WAL file over, so it does not grow; outbox.cc).
  uint64_t checkpoints() const;

  // Commits what is pending, then refuses further writes (closed) and joins
  // the writer thread. Idempotent.
  void stop();

 private:
  struct op;
  struct connection;  // a SQLite connection and its prepared statements
  outbox();
  void run();
  void checkpoint();  // writer thread
  result<void> commit(std::deque<op*>& ops);
  result<void> apply(op& o, std::map<std::string, outbox_usage>& added,
                     std::map<std::string, outbox_usage>& removed);
  result<void> submit(op& o);
  void push_lingering(op* o);                            // under mu_
  uint64_t first_held(const std::string& target) const;  // its smallest held seq, INT64_MAX when none

  std::unique_ptr<connection> w_;  // the writer thread's (and open's)
  std::unique_ptr<connection> r_;  // readers', under read_mu_
  std::string id_;
  uint64_t next_seq_ = 1;  // writer thread only (after open)
  std::atomic<int> writer_busy_{0};  // busy_statements() of w_ after the writer's last commit
  std::atomic<int> wal_pages_{0};    // pages in the WAL after the last commit (writer thread's checkpoints)
  bool synced_ = true;     // writer thread only: the connection's synchronous is FULL (else NORMAL)
  std::chrono::steady_clock::time_point next_checkpoint_{};  // writer thread only: no try before this

  mutable std::mutex read_mu_;
  mutable std::mutex mu_;
  std::condition_variable work_cv_;  // writer waits for ops
  std::condition_variable done_cv_;  // callers wait for their op
  std::deque<op*> pending_;
  // Rows begun but not ended (or cancelled, until deleted): seq → targets.
  std::map<uint64_t, std::vector<std::string>> held_;
  bool stopping_ = false;
  uint64_t queued_bytes_ = 0;                  // rows of append_queued not yet committed, under mu_
  std::map<std::string, outbox_usage> usage_;  // per target, under mu_
  outbox_usage total_;
  uint64_t commits_ = 0;
  uint64_t checkpoints_ = 0;
  std::thread writer_;
};

}  // namespace sluice::events
