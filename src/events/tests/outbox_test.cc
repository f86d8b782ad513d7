#include "events/outbox.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <set>
#include <thread>

#include "base/crypto.h"

namespace sluice::events {
namespace {

constexpr const char* kA = "arn:minio:sqs::1:kafka";
constexpr const char* kB = "arn:minio:sqs::2:webhook";

class Outbox : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("sluice-outbox-" + random_token(8));
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<outbox> open() {
    auto o = outbox::open(dir_.string());
    EXPECT_TRUE(o) << o.error().message();
    return o ? std::move(o).value() : nullptr;
  }
  static std::vector<stored_event> all(outbox& o, const std::string& target) {
    auto r = o.read(target, 0, 1'000'000, UINT64_MAX);
    EXPECT_TRUE(r) << r.error().message();
    return r ? r.value() : std::vector<stored_event>{};
  }

  std::filesystem::path dir_;
};

TEST_F(Outbox, AppendReadRemoveInOrder) {
  auto o = open();
  auto ids = o->append({{{kA, kB}, "b/k1", "v1"}, {{kA}, "b/k2", "v2"}, {{}, "b/k3", "v3"}});
  ASSERT_TRUE(ids) << ids.error().message();
  ASSERT_EQ(ids.value().size(), 3u);
  EXPECT_EQ(ids.value()[0], o->id() + "-1");
  EXPECT_EQ(ids.value()[1], o->id() + "-2");
  EXPECT_EQ(o->id().size(), 16u);

  auto a = all(*o, kA);
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0].key, "b/k1");
  EXPECT_EQ(a[0].value, "v1");
  EXPECT_EQ(a[0].event_id, ids.value()[0]);
  EXPECT_EQ(a[1].key, "b/k2");
  auto b = all(*o, kB);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].event_id, ids.value()[0]);  // one event, one id, in every target

  EXPECT_EQ(o->usage().events, 3u);
  EXPECT_EQ(o->usage(kA).events, 2u);
  EXPECT_EQ(o->usage(kA).bytes, ids.value()[0].size() + 4 + 2 + ids.value()[1].size() + 4 + 2);

  ASSERT_TRUE(o->remove(kA, a[0].seq));
  a = all(*o, kA);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].key, "b/k2");
  EXPECT_EQ(o->usage(kA).events, 1u);
  EXPECT_EQ(o->usage().events, 2u);
  // Reading after a seq skips what was delivered before.
  EXPECT_TRUE(o->read(kA, a[0].seq, 10, UINT64_MAX).value().empty());
  ASSERT_TRUE(o->remove(kA, a[0].seq));
  ASSERT_TRUE(o->remove(kB, 100));
  EXPECT_EQ(o->usage().events, 0u);
  EXPECT_EQ(o->usage().bytes, 0u);
  EXPECT_TRUE(o->usage_by_target().empty());
}

TEST_F(Outbox, ReadHonoursCountAndByteLimits) {
  auto o = open();
  std::vector<outbox_entry> entries;
  for (int i = 0; i < 10; ++i) entries.push_back({{kA}, "k" + std::to_string(i), std::string(100, 'x')});
  ASSERT_TRUE(o->append(entries));
  EXPECT_EQ(o->read(kA, 0, 3, UINT64_MAX).value().size(), 3u);
  EXPECT_EQ(o->read(kA, 0, 100, 250).value().size(), 2u);
  EXPECT_EQ(o->read(kA, 0, 100, 1).value().size(), 1u);  // the first always comes
}

TEST_F(Outbox, SurvivesReopenAndNeverReusesIds) {
  std::string first_id;
  {
    auto o = open();
    auto ids = o->append({{{kA}, "b/k", "v"}});
    ASSERT_TRUE(ids);
    first_id = ids.value()[0];
    auto a = all(*o, kA);
    ASSERT_EQ(a.size(), 1u);
    ASSERT_TRUE(o->append({{{kA}, "b/k2", "v2"}}));
    ASSERT_TRUE(o->remove(kA, a[0].seq));
  }
  auto o = open();
  auto a = all(*o, kA);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].key, "b/k2");
  EXPECT_EQ(o->usage(kA).events, 1u);
  ASSERT_TRUE(o->remove(kA, a[0].seq));
  // Everything was delivered: the counter still goes on.
  auto ids = o->append({{{kA}, "b/k3", "v3"}});
  ASSERT_TRUE(ids);
  EXPECT_EQ(ids.value()[0], o->id() + "-3");
  EXPECT_NE(ids.value()[0], first_id);
}

TEST_F(Outbox, ConcurrentAppendsShareCommits) {
  auto o = open();
  constexpr int kThreads = 16, kEach = 40;
  std::vector<std::thread> threads;
  std::mutex mu;
  std::set<std::string> ids;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        auto r = o->append({{{kA}, "b/" + std::to_string(t), std::to_string(i)}});
        ASSERT_TRUE(r);
        std::lock_guard lock(mu);
        ids.insert(r.value()[0]);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ids.size(), static_cast<size_t>(kThreads * kEach));
  auto a = all(*o, kA);
  ASSERT_EQ(a.size(), static_cast<size_t>(kThreads * kEach));
  // Per writer, its events are in the order it appended them.
  std::map<std::string, int> last;
  for (const auto& e : a) {
    int v = std::stoi(e.value);
    auto it = last.find(e.key);
    if (it != last.end()) {
      EXPECT_GT(v, it->second);
    }
    last[e.key] = v;
  }
  // Group commit: fewer transactions than calls.
  EXPECT_LT(o->commits(), static_cast<uint64_t>(kThreads * kEach));
}

// Appends and a delivery loop (read, remove, the readers' checkpoints) run
// together for long enough to pass many checkpoints: no call may fail with a
// lock held by the other connection (a failed append fails its S3 request).
TEST_F(Outbox, AppendsNeverFailWhileADeliveryLoopReadsRemovesAndTheWalStaysBounded) {
  auto o = open();
  constexpr int kThreads = 8, kEach = 1000;
  std::atomic<int> failures{0};
  std::atomic<bool> done{false};
  std::string first_error;
  std::mutex mu;
  auto note = [&](const error& e) {
    std::lock_guard lock(mu);
    if (failures++ == 0) first_error = e.message();
  };
  std::thread reader([&] {
    uint64_t after = 0;
    while (!done.load()) {
      auto r = o->read(kA, after, 500, 4 << 20);
      if (!r) {
        note(r.error());
        continue;
      }
      if (r.value().empty()) {
        std::this_thread::sleep_for(std::chrono::microseconds(200));
        continue;
      }
      after = r.value().back().seq;
      if (auto d = o->remove(kA, after); !d) note(d.error());
    }
  });
  std::vector<std::thread> threads;
  const std::string value(600, 'v');
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        auto b = o->begin_append({{{kA}, "b/" + std::to_string(t), value}});
        if (!b) {
          note(b.error());
          continue;
        }
        if (auto e = o->end_append(*b.value(), true); !e) note(e.error());
      }
    });
  }
  for (auto& t : threads) t.join();
  done = true;
  reader.join();
  EXPECT_EQ(failures.load(), 0) << first_error;
  EXPECT_EQ(o->busy_statements(), 0);
  // The WAL was restarted rather than left to grow: ~4 pages per commit for
  // ~1,000 commits would be ~16 MB, the checkpoint bound is 1,000 pages
  // (4 MB) plus the commit that crossed it.
  EXPECT_GE(o->checkpoints(), 1u);
  const auto wal = std::filesystem::file_size(dir_ / "outbox.db-wal");
  EXPECT_LE(wal, 6u << 20) << "WAL file of " << wal << " bytes";
}

// A reader that keeps an old snapshot (an operator's sqlite3 shell in a
// transaction) keeps the WAL from being restarted; the writer then tries
// again after kCheckpointRetry rather than waiting on every commit, and
// checkpoints once the reader is gone.
TEST_F(Outbox, ALongReaderDelaysCheckpointsWithoutSlowingEveryCommit) {
  auto o = open();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2((dir_ / "outbox.db").c_str(), &db, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "BEGIN; SELECT count(*) FROM events;", nullptr, nullptr, nullptr), SQLITE_OK);
  const std::string value(8000, 'v');
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 600; ++i) ASSERT_TRUE(o->append({{{kA}, "b/k", value}}));
  const auto took = std::chrono::steady_clock::now() - t0;
  // ~2,400 pages: past the 1,000-page mark ~350 commits would each have
  // waited 50 ms for the reader (~17 s).
  EXPECT_LT(took, std::chrono::seconds(5));
  EXPECT_EQ(o->checkpoints(), 0u);
  EXPECT_GT(std::filesystem::file_size(dir_ / "outbox.db-wal"), 4u << 20);
  ASSERT_EQ(sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  ASSERT_TRUE(o->append({{{kA}, "b/k", value}}));
  for (int i = 0; i < 50 && o->checkpoints() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_GE(o->checkpoints(), 1u);
}

// No statement stays running between calls, from open on: one would hold a
// read transaction on an old snapshot, which makes SQLite refuse the
// writer's next BEGIN IMMEDIATE at once (no busy wait) once the snapshot is
// stale, and keeps checkpoints from passing it.
TEST_F(Outbox, NoStatementStaysRunningBetweenCalls) {
  {
    auto o = open();
    EXPECT_EQ(o->busy_statements(), 0);
    ASSERT_TRUE(o->append({{{kA}, "b/1", "v"}}));
    EXPECT_EQ(o->busy_statements(), 0);
    ASSERT_EQ(all(*o, kA).size(), 1u);
    ASSERT_TRUE(o->remove(kA, 1));
    EXPECT_EQ(o->busy_statements(), 0);
  }
  auto o = open();  // an existing file: its id, seq and usage are read
  EXPECT_EQ(o->busy_statements(), 0);
}

TEST_F(Outbox, QueuedAppendsAreCommittedInCallOrderWithOthers) {
  auto o = open();
  ASSERT_TRUE(o->append_queued({{{kA, kB}, "b/read", "get"}}));
  // A later waiting append commits with (or after) the queued one, and
  // behind it in seq order.
  ASSERT_TRUE(o->append({{{kA}, "b/write", "put"}}));
  auto a = all(*o, kA);
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0].value, "get");
  EXPECT_EQ(a[1].value, "put");
  EXPECT_LT(a[0].seq, a[1].seq);
  ASSERT_EQ(all(*o, kB).size(), 1u);
  EXPECT_EQ(o->usage(kA).events, 2u);
}

TEST_F(Outbox, QueuedAppendsAreCommittedWithoutAWaiterAndByStop) {
  {
    auto o = open();
    ASSERT_TRUE(o->append_queued({{{kA}, "b/k", "1"}}));
    // Nobody waits: the commit still comes, after the linger.
    for (int i = 0; i < 500 && all(*o, kA).empty(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    ASSERT_EQ(all(*o, kA).size(), 1u);
    ASSERT_TRUE(o->append_queued({{{kA}, "b/k", "2"}}));
    o->stop();  // commits what is queued
    EXPECT_FALSE(o->append_queued({{{kA}, "b/k", "3"}}));
  }
  auto o = open();
  auto a = all(*o, kA);
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[1].value, "2");
}

// Many more queued bytes than the bound: every call returns, every row lands.
TEST_F(Outbox, QueuedAppendsAreBoundedAndAllLand) {
  auto o = open();
  const std::string value(256 << 10, 'q');
  const int n = static_cast<int>(3 * outbox::kMaxQueuedBytes / value.size());
  uint64_t most = 0;
  for (int i = 0; i < n; ++i) {
    ASSERT_TRUE(o->append_queued({{{kA}, "b/" + std::to_string(i), value}}));
    most = std::max(most, o->queued_bytes());
  }
  EXPECT_LT(most, outbox::kMaxQueuedBytes + 2 * value.size());
  ASSERT_TRUE(o->append({{{kA}, "b/last", "x"}}));
  EXPECT_EQ(o->queued_bytes(), 0u);
  auto a = o->read(kA, 0, 1'000'000, UINT64_MAX);
  ASSERT_TRUE(a);
  EXPECT_EQ(a.value().size(), static_cast<size_t>(n + 1));
}

TEST_F(Outbox, BegunRowsAreHeldUntilTheirChangeLands) {
  auto o = open();
  auto t = o->begin_append({{{kA}, "b/first", "v1"}});
  ASSERT_TRUE(t) << t.error().message();
  // A later append commits after (or with) the begun one: both are in the
  // file, and the held row keeps back the target's rows behind it.
  ASSERT_TRUE(o->append({{{kA}, "b/second", "v2"}, {{kB}, "b/other", "v3"}}));
  EXPECT_TRUE(all(*o, kA).empty());
  EXPECT_EQ(all(*o, kB).size(), 1u);  // other targets are not held back
  EXPECT_EQ(o->usage(kA).events, 2u);

  auto ids = o->end_append(*t.value(), true);
  ASSERT_TRUE(ids) << ids.error().message();
  ASSERT_EQ(ids.value().size(), 1u);
  auto a = all(*o, kA);
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0].key, "b/first");
  EXPECT_EQ(a[0].event_id, ids.value()[0]);
  EXPECT_EQ(a[1].key, "b/second");
  EXPECT_FALSE(o->end_append(*t.value(), true));  // once only
}

TEST_F(Outbox, RowsOfAFailedChangeAreNeverRead) {
  auto o = open();
  auto t = o->begin_append({{{kA, kB}, "b/failed", "v1"}});
  ASSERT_TRUE(t);
  ASSERT_TRUE(o->append({{{kA}, "b/after", "v2"}}));
  auto ids = o->end_append(*t.value(), false);
  ASSERT_TRUE(ids);
  EXPECT_TRUE(ids.value().empty());
  // The delete commits in the background; until then nothing of kA is read.
  std::vector<stored_event> a;
  for (int i = 0; i < 500 && a.empty(); ++i) {
    a = all(*o, kA);
    if (a.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].key, "b/after");
  EXPECT_TRUE(all(*o, kB).empty());
  EXPECT_EQ(o->usage(kA).events, 1u);
  EXPECT_EQ(o->usage(kB).events, 0u);
  o.reset();
  o = open();  // deleted in the file too
  EXPECT_EQ(all(*o, kA).size(), 1u);
  EXPECT_TRUE(all(*o, kB).empty());
}

TEST_F(Outbox, RowsOfAChangeInFlightAtACrashAreReadAfterRestart) {
  auto o = open();
  auto t = o->begin_append({{{kA}, "b/in-flight", "v1"}});
  ASSERT_TRUE(t);
  ASSERT_TRUE(o->append({{{kA}, "b/after", "v2"}}));
  o.reset();  // the change's end was never recorded, as after a crash
  o = open();
  auto a = all(*o, kA);
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0].key, "b/in-flight");
  EXPECT_EQ(a[1].key, "b/after");
}

TEST_F(Outbox, RemovesAloneDoNotWaitForAnAppend) {
  auto o = open();
  ASSERT_TRUE(o->append({{{kA}, "b/k", "v"}}));
  auto a = all(*o, kA);
  ASSERT_EQ(a.size(), 1u);
  ASSERT_TRUE(o->remove(kA, a[0].seq));
  EXPECT_TRUE(all(*o, kA).empty());
  o.reset();
  o = open();
  EXPECT_TRUE(all(*o, kA).empty());  // committed (a clean close keeps it)
}

TEST_F(Outbox, StopRefusesWrites) {
  auto o = open();
  ASSERT_TRUE(o->append({{{kA}, "k", "v"}}));
  o->stop();
  auto r = o->append({{{kA}, "k", "v"}});
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(errc::closed));
  EXPECT_EQ(all(*o, kA).size(), 1u);  // reads still work
}

// A child process appends events and reports each id once append returned;
// it is killed with SIGKILL mid-stream. Every reported id must be in the
// reopened outbox.
TEST_F(Outbox, EveryAcknowledgedAppendSurvivesKill9) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(fds[0]);
    auto o = outbox::open(dir_.string());
    if (!o) _exit(2);
    for (int i = 0;; ++i) {
      auto r = o.value()->append({{{kA, kB}, "b/k" + std::to_string(i), std::string(200, 'v')}});
      if (!r) _exit(3);
      const std::string line = r.value()[0] + "\n";
      if (write(fds[1], line.data(), line.size()) != static_cast<ssize_t>(line.size())) _exit(4);
    }
  }
  close(fds[1]);
  std::vector<std::string> acked;
  std::string buf;
  char chunk[4096];
  while (acked.size() < 300) {
    const ssize_t n = read(fds[0], chunk, sizeof chunk);
    ASSERT_GT(n, 0) << "child died early";
    buf.append(chunk, static_cast<size_t>(n));
    size_t nl;
    while ((nl = buf.find('\n')) != std::string::npos) {
      acked.push_back(buf.substr(0, nl));
      buf.erase(0, nl + 1);
    }
  }
  ASSERT_EQ(kill(child, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFSIGNALED(status));
  // Ids the child wrote after the ones read so far were acknowledged too.
  for (ssize_t n; (n = read(fds[0], chunk, sizeof chunk)) > 0;) buf.append(chunk, static_cast<size_t>(n));
  close(fds[0]);
  size_t nl;
  while ((nl = buf.find('\n')) != std::string::npos) {
    acked.push_back(buf.substr(0, nl));
    buf.erase(0, nl + 1);
  }

  auto o = open();
  for (const char* t : {kA, kB}) {
    std::set<std::string> stored;
    for (const auto& e : all(*o, t)) stored.insert(e.event_id);
    for (const auto& id : acked) EXPECT_TRUE(stored.contains(id)) << t << " lost " << id;
    EXPECT_EQ(o->usage(t).events, stored.size());
  }
}

}  // namespace
}  // namespace sluice::events
