#include "stream/wal/wal.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "base/fs.h"
#include "stream/types.h"
#include "stream/wal/fault_device.h"
#include "stream/wal/format.h"

namespace sluice::stream::wal {
namespace {

using namespace std::chrono_literals;
using crash_mode = fault_disk::crash_mode;

constexpr size_t kBlock = 4096;
constexpr size_t kHdr = format::kRecordHeaderBytes;

options small_options() {
  options o;
  o.max_group_bytes = 16 << 10;
  o.max_record_bytes = 8 << 10;
  o.append_timeout = 10s;
  return o;
}

struct rec {
  uint64_t offset = 0;
  std::string payload;
  friend bool operator==(const rec&, const rec&) = default;
};

std::ostream& operator<<(std::ostream& os, const rec& r) {
  return os << "{" << r.offset << ", " << r.payload.size() << " bytes}";
}

// A payload that names itself: id in the first bytes, then a pattern.
std::string make_payload(uint64_t id, size_t len) {
  std::string s(len, '\0');
  for (size_t i = 0; i < len; ++i) s[i] = static_cast<char>('a' + (id * 7 + i) % 26);
  std::string tag = std::to_string(id) + ":";
  std::copy_n(tag.begin(), std::min(tag.size(), len), s.begin());
  return s;
}

struct opened {
  std::unique_ptr<log> lg;
  std::vector<rec> recovered;
  std::vector<uint64_t> nexts;
};

result<opened> open_disk(const std::shared_ptr<fault_disk>& disk, const options& opts = small_options()) {
  opened o;
  auto l = open(disk->open(), opts, [&](const recovered_record& r) -> result<void> {
    o.recovered.push_back({r.offset.value(), std::string(r.payload)});
    o.nexts.push_back(r.next.value());
    return ok();
  });
  if (!l) return fail(l.error());
  o.lg = std::move(l.value());
  return o;
}

opened must_open(const std::shared_ptr<fault_disk>& disk, const options& opts = small_options()) {
  auto o = open_disk(disk, opts);
  if (!o) ADD_FAILURE() << "open: " << o.error().message();
  return o ? std::move(o.value()) : opened{};
}

// Collects async append results. Callbacks hold the state, so a test that
// fails early (and destroys the collector before the log) stays memory-safe.
struct collector {
  struct state {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<std::pair<uint64_t, result<wal_offset>>> done;  // (id, result) in callback order
    std::map<uint64_t, int> calls;
  };
  std::shared_ptr<state> st = std::make_shared<state>();
  std::mutex& mu = st->mu;
  std::vector<std::pair<uint64_t, result<wal_offset>>>& done = st->done;
  std::map<uint64_t, int>& calls = st->calls;

  log::append_callback cb(uint64_t id) {
    return [st = st, id](result<wal_offset> r) {
      std::lock_guard lk(st->mu);
      st->done.emplace_back(id, std::move(r));
      ++st->calls[id];
      st->cv.notify_all();
    };
  }
  bool wait(size_t n, std::chrono::milliseconds t = 20s) {
    std::unique_lock lk(st->mu);
    return st->cv.wait_for(lk, t, [&] { return st->done.size() >= n; });
  }
  size_t count() {
    std::lock_guard lk(st->mu);
    return st->done.size();
  }
};

uint64_t slot_seq(const std::shared_ptr<fault_disk>& disk, int slot) {
  auto h = format::decode_header(disk->durable(slot * kBlock, kBlock).data());
  return h ? h->seq : 0;
}

void wait_until(const std::function<bool()>& pred) {
  for (int i = 0; i < 2000 && !pred(); ++i) std::this_thread::sleep_for(1ms);
  ASSERT_TRUE(pred());
}

TEST(Wal, FormatsThenRoundTrips) {
  auto disk = std::make_shared<fault_disk>(1 << 20);
  std::vector<rec> written;
  {
    auto o = must_open(disk);
    EXPECT_TRUE(o.lg->recovery().formatted);
    EXPECT_TRUE(o.recovered.empty());
    EXPECT_EQ(o.lg->capacity(), (1 << 20) - 2 * kBlock);
    EXPECT_EQ(o.lg->end_offset(), wal_offset(0));
    uint64_t prev = 0;
    for (int i = 0; i < 50; ++i) {
      std::string p = make_payload(i, static_cast<size_t>(i * 97 % 5000));
      auto r = o.lg->append_sync(p);
      ASSERT_TRUE(r) << r.error().message();
      if (i > 0) {
        EXPECT_GT(r.value().value(), prev);
      }
      prev = r.value().value();
      written.push_back({r.value().value(), p});
    }
    EXPECT_EQ(o.lg->used(), o.lg->end_offset().value());
    o.lg->close();
  }
  auto o = must_open(disk);
  EXPECT_FALSE(o.lg->recovery().formatted);
  EXPECT_TRUE(o.lg->recovery().clean_shutdown);
  EXPECT_EQ(o.lg->recovery().zeroed_bytes, 0u);
  EXPECT_FALSE(o.lg->recovery().corruption);
  EXPECT_EQ(o.lg->recovery().records, written.size());
  EXPECT_EQ(o.recovered, written);
  // next: the following record, or the block after a group's last record.
  for (size_t i = 0; i + 1 < o.nexts.size(); ++i) EXPECT_EQ(o.nexts[i], written[i + 1].offset);
  EXPECT_EQ(o.nexts.back() % kBlock, 0u);
  EXPECT_EQ(o.lg->end_offset().value(), o.nexts.back());
  // Appends continue after the recovered records.
  auto r = o.lg->append_sync("after");
  ASSERT_TRUE(r);
  EXPECT_EQ(r.value().value(), o.nexts.back());
  written.push_back({r.value().value(), "after"});
  o.lg.reset();
  auto o2 = must_open(disk);
  EXPECT_EQ(o2.recovered, written);
}

TEST(Wal, RecordGivenInPiecesRecoversAsOnePayload) {
  auto disk = std::make_shared<fault_disk>(1 << 20);
  const std::string a = make_payload(1, 45), b = make_payload(2, 3000), joined = a + "" + b;
  std::vector<rec> written;
  {
    auto o = must_open(disk);
    collector c;
    const std::string_view parts[] = {a, std::string_view(), b};  // an empty piece is allowed
    ASSERT_TRUE(o.lg->append(parts, c.cb(1)));
    ASSERT_TRUE(c.wait(1));
    ASSERT_TRUE(c.done[0].second);
    written.push_back({c.done[0].second.value().value(), joined});
    auto r = o.lg->append_sync(joined);  // the same bytes in one piece
    ASSERT_TRUE(r);
    written.push_back({r.value().value(), joined});
    o.lg->close();
  }
  auto o = must_open(disk);
  EXPECT_FALSE(o.lg->recovery().corruption);  // the CRC over the pieces is the CRC of the payload
  EXPECT_EQ(o.recovered, written);
}

TEST(Wal, ConcurrentAppendsAckEachOnceInOrderAndRecoverExactly) {
  auto disk = std::make_shared<fault_disk>(8 << 20);
  disk->set_write_delay(300us);  // let groups form
  auto o = must_open(disk);
  constexpr int kThreads = 8, kPerThread = 250;
  collector c;
  std::mutex mu;
  std::map<uint64_t, std::string> payloads;  // id -> payload
  std::vector<std::thread> threads;
  std::atomic<int> rejected{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      for (int i = 0; i < kPerThread; ++i) {
        uint64_t id = static_cast<uint64_t>(t) * 100000 + i;
        std::string p = make_payload(id, 1 + rng() % 3000);
        {
          std::lock_guard lk(mu);
          payloads[id] = p;
        }
        if (!o.lg->append(p, c.cb(id))) ++rejected;
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_EQ(rejected.load(), 0);
  ASSERT_TRUE(c.wait(kThreads * kPerThread));
  std::vector<rec> acked;
  {
    std::lock_guard lk(c.mu);
    EXPECT_EQ(c.done.size(), static_cast<size_t>(kThreads * kPerThread));
    for (auto& [id, n] : c.calls) EXPECT_EQ(n, 1) << id;
    std::map<int, uint64_t> last_per_thread;
    uint64_t prev = 0;
    for (size_t i = 0; i < c.done.size(); ++i) {
      auto& [id, r] = c.done[i];
      ASSERT_TRUE(r) << r.error().message();
      uint64_t off = r.value().value();
      if (i > 0) {
        EXPECT_GT(off, prev) << "callbacks out of offset order";
      }
      prev = off;
      int t = static_cast<int>(id / 100000);
      if (last_per_thread.count(t)) {
        EXPECT_GT(off, last_per_thread[t]) << "a thread's appends reordered";
      }
      last_per_thread[t] = off;
      acked.push_back({off, payloads[id]});
    }
  }
  EXPECT_LT(disk->writes(), static_cast<uint64_t>(kThreads * kPerThread) / 4) << "no group commit happened";
  // Power loss right after the last ack: everything acknowledged survives.
  disk->crash(crash_mode::lose_unflushed);
  o.lg.reset();
  auto o2 = must_open(disk);
  EXPECT_FALSE(o2.lg->recovery().clean_shutdown);
  EXPECT_EQ(o2.recovered, acked);
}

// A crash in the middle of concurrent appends, with unflushed blocks
// persisted at random (whole, torn, or not at all): recovery returns every
// acknowledged record and a prefix of the appended ones; a later recovery
// never resurrects records the earlier one dropped.
TEST(Wal, RandomCrashesKeepAcknowledgedPrefix) {
  for (uint64_t seed = 1; seed <= 12; ++seed) {
    SCOPED_TRACE(seed);
    auto disk = std::make_shared<fault_disk>(1 << 20);
    disk->set_write_delay(100us);
    std::vector<rec> expected;  // what the last recovery returned
    for (int run = 0; run < 3; ++run) {
      SCOPED_TRACE(run);
      auto o = must_open(disk);
      ASSERT_TRUE(o.lg);
      ASSERT_EQ(o.recovered, expected) << "recovery changed records an earlier recovery returned";
      // Trim half of what is there so the ring keeps moving.
      if (expected.size() > 10) {
        size_t k = expected.size() / 2;
        ASSERT_TRUE(o.lg->trim(wal_offset(expected[k].offset)));
        expected.erase(expected.begin(), expected.begin() + static_cast<long>(k));
      }
      collector c;
      std::mutex mu;
      std::map<uint64_t, std::string> accepted;  // offset unknown until ack: keep by id
      std::atomic<bool> stop{false};
      std::vector<std::thread> threads;
      for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
          std::mt19937 rng(static_cast<unsigned>(seed * 10 + t));
          for (uint64_t i = 0; !stop; ++i) {
            uint64_t id = (seed * 1000 + run * 100 + t) * 1000000 + i;
            std::string p = make_payload(id, 1 + rng() % 6000);
            {
              std::lock_guard lk(mu);
              accepted[id] = p;
            }
            if (!o.lg->append(p, c.cb(id))) {
              std::lock_guard lk(mu);
              accepted.erase(id);
              std::this_thread::sleep_for(200us);
            }
          }
        });
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20 + seed * 3));
      disk->crash(crash_mode::random_blocks, seed * 31 + run);
      stop = true;
      for (auto& th : threads) th.join();
      o.lg.reset();  // every callback has run now
      std::map<uint64_t, std::string> ok_by_offset;
      size_t failed = 0;
      {
        std::lock_guard lk(c.mu);
        ASSERT_EQ(c.done.size(), accepted.size());
        for (auto& [id, r] : c.done) {
          if (r)
            ok_by_offset[r.value().value()] = accepted[id];
          else
            ++failed;
        }
      }
      auto o2 = must_open(disk);
      ASSERT_TRUE(o2.lg);
      // Every acknowledged record is back, in order, after what survived before.
      std::vector<rec> got(
          o2.recovered.begin() + static_cast<long>(std::min(expected.size(), o2.recovered.size())),
          o2.recovered.end());
      ASSERT_GE(o2.recovered.size(), expected.size());
      ASSERT_TRUE(std::equal(expected.begin(), expected.end(), o2.recovered.begin()));
      size_t acked_seen = 0;
      for (auto& r : got) {
        auto it = ok_by_offset.find(r.offset);
        if (it != ok_by_offset.end()) {
          EXPECT_EQ(it->second, r.payload);
          ++acked_seen;
        } else {
          // Unacknowledged but recovered: it must be one we appended (a failed callback).
          bool found = false;
          for (auto& [id, p] : accepted) found |= p == r.payload;
          EXPECT_TRUE(found) << "recovered a record nobody appended at " << r.offset;
        }
      }
      EXPECT_EQ(acked_seen, ok_by_offset.size()) << "an acknowledged record was lost";
      EXPECT_FALSE(o2.lg->recovery().corruption) << o2.lg->recovery().stop_reason;
      expected = o2.recovered;
      (void)failed;
      // Leave it as the next run finds it: an unclean stop (no close).
      disk->crash(crash_mode::lose_unflushed);
    }
  }
}

// The last group is torn at every block boundary and inside blocks: recovery
// returns everything acknowledged before it and nothing of it (unless all of
// it arrived), and appends continue cleanly.
TEST(Wal, TornTailAtEveryCutPoint) {
  options opts = small_options();
  opts.max_group_bytes = 64 << 10;
  std::vector<size_t> cuts;
  constexpr size_t kGroupBlocks = 5;
  for (size_t b = 0; b <= kGroupBlocks; ++b) {
    cuts.push_back(b * kBlock);
    if (b < kGroupBlocks) {
      cuts.push_back(b * kBlock + 512);
      cuts.push_back(b * kBlock + 2048 + 7);
    }
  }
  for (size_t cut : cuts) {
    SCOPED_TRACE(cut);
    auto disk = std::make_shared<fault_disk>(1 << 20);
    std::vector<rec> acked;
    auto o = must_open(disk, opts);
    for (int i = 0; i < 3; ++i) {
      auto r = o.lg->append_sync(make_payload(i, 1000 + i));
      ASSERT_TRUE(r);
      acked.push_back({r.value().value(), make_payload(i, 1000 + i)});
    }
    collector c;
    disk->pause_writes();
    ASSERT_TRUE(o.lg->append(make_payload(10, 100), c.cb(10)));  // group A: the writer blocks in its write
    wait_until([&] { return disk->paused_writers() == 1; });
    // Group B: 6 records, 5 blocks (20 KiB) when written.
    std::vector<rec> b_recs;
    for (int i = 0; i < 6; ++i) {
      uint64_t before = o.lg->end_offset().value();
      std::string p = make_payload(20 + i, 3300);
      ASSERT_TRUE(o.lg->append(p, c.cb(20 + i)));
      b_recs.push_back({before, p});
    }
    ASSERT_EQ((o.lg->end_offset().value() - b_recs[0].offset + kBlock - 1) / kBlock, kGroupBlocks);
    disk->tear_next_write(cut, 1);  // A's write completes, B's keeps `cut` bytes
    disk->resume_writes();
    ASSERT_TRUE(c.wait(7));
    {
      std::lock_guard lk(c.mu);
      ASSERT_TRUE(c.done[0].second) << c.done[0].second.error().message();  // A acknowledged
      acked.push_back({c.done[0].second.value().value(), make_payload(10, 100)});
      for (size_t i = 1; i < 7; ++i) EXPECT_FALSE(c.done[i].second);  // B failed
    }
    EXPECT_EQ(o.lg->append("late", [](result<wal_offset>) {}).error().code(),
              make_error_code(errc::io_error));
    disk->crash(crash_mode::keep_unflushed);
    o.lg.reset();
    auto o2 = must_open(disk, opts);
    std::vector<rec> want = acked;
    if (cut >= kGroupBlocks * kBlock) want.insert(want.end(), b_recs.begin(), b_recs.end());
    EXPECT_EQ(o2.recovered, want);
    EXPECT_FALSE(o2.lg->recovery().corruption);
    // Appends continue; a further crash recovers them and nothing of B.
    auto r = o2.lg->append_sync("new");
    ASSERT_TRUE(r);
    want.push_back({r.value().value(), "new"});
    disk->crash(crash_mode::lose_unflushed);
    o2.lg.reset();
    auto o3 = must_open(disk, opts);
    EXPECT_EQ(o3.recovered, want);
  }
}

// A group written but never flushed may reach the disk out of order: here all
// of it except its first block. Recovery drops it; it must stay dropped after
// new appends overwrite its first block.
TEST(Wal, DroppedGroupNeverResurrects) {
  options opts = small_options();
  opts.max_group_bytes = 64 << 10;
  auto disk = std::make_shared<fault_disk>(1 << 20);
  auto o = must_open(disk, opts);
  std::vector<rec> acked;
  auto r0 = o.lg->append_sync("first");
  ASSERT_TRUE(r0);
  acked.push_back({r0.value().value(), "first"});
  collector c;
  disk->pause_writes();
  ASSERT_TRUE(o.lg->append("a", c.cb(1)));
  wait_until([&] { return disk->paused_writers() == 1; });
  // One-block records, so each starts on a block boundary.
  uint64_t b_start = o.lg->end_offset().value();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(o.lg->append(make_payload(i, kBlock - kHdr), c.cb(10 + i)));
  disk->fail_flushes(1, 1);  // A's flush succeeds, B's fails
  disk->resume_writes();
  ASSERT_TRUE(c.wait(6));
  {
    std::lock_guard lk(c.mu);
    ASSERT_TRUE(c.done[0].second);
    acked.push_back({c.done[0].second.value().value(), "a"});
    for (size_t i = 1; i < 6; ++i) EXPECT_FALSE(c.done[i].second);
  }
  ASSERT_EQ(b_start % kBlock, 0u);
  disk->crash(crash_mode::keep_unflushed);
  o.lg.reset();
  const uint64_t cap = (1 << 20) - 2 * kBlock;
  disk->corrupt(2 * kBlock + b_start % cap + 8, 8);  // B's first block "did not arrive"
  auto o2 = must_open(disk, opts);
  EXPECT_EQ(o2.recovered, acked);
  EXPECT_GT(o2.lg->recovery().zeroed_bytes, 5 * kBlock);
  auto r = o2.lg->append_sync("new");  // one block, over B's first
  ASSERT_TRUE(r);
  EXPECT_EQ(r.value().value(), b_start);
  acked.push_back({b_start, "new"});
  disk->crash(crash_mode::lose_unflushed);
  o2.lg.reset();
  auto o3 = must_open(disk, opts);
  EXPECT_EQ(o3.recovered, acked) << "records of a dropped group came back";
}

TEST(Wal, CorruptMiddleRecordStopsRecoveryAndIsReported) {
  auto disk = std::make_shared<fault_disk>(1 << 20);
  std::vector<rec> written;
  uint64_t cap = 0;
  {
    auto o = must_open(disk);
    cap = o.lg->capacity();
    for (int i = 0; i < 40; ++i) {
      auto r = o.lg->append_sync(make_payload(i, 3000));
      ASSERT_TRUE(r);
      written.push_back({r.value().value(), make_payload(i, 3000)});
    }
    o.lg->close();
  }
  disk->corrupt(2 * kBlock + written[10].offset % cap + kHdr + 100, 1);  // one payload byte of record 10
  auto o = must_open(disk);
  EXPECT_EQ(o.recovered, std::vector<rec>(written.begin(), written.begin() + 10));
  EXPECT_TRUE(o.lg->recovery().corruption);
  EXPECT_NE(o.lg->recovery().stop_reason.find("CRC"), std::string::npos) << o.lg->recovery().stop_reason;
  EXPECT_EQ(o.lg->recovery().end.value(), written[10].offset);
  EXPECT_EQ(o.lg->end_offset().value(), written[10].offset);
  // The log goes on from there.
  auto r = o.lg->append_sync("x");
  ASSERT_TRUE(r);
  EXPECT_EQ(r.value().value(), written[10].offset);
}

TEST(Wal, DamagedRecordHeaderAtTheTailIsNotCorruption) {
  auto disk = std::make_shared<fault_disk>(1 << 20);
  std::vector<rec> written;
  {
    auto o = must_open(disk);
    for (int i = 0; i < 5; ++i) {
      auto r = o.lg->append_sync(make_payload(i, 100));
      ASSERT_TRUE(r);
      written.push_back({r.value().value(), make_payload(i, 100)});
    }
    disk->crash(crash_mode::lose_unflushed);
  }
  disk->corrupt(2 * kBlock + written[4].offset + 4, 1);  // record header of the last group
  auto o = must_open(disk);
  written.pop_back();
  EXPECT_EQ(o.recovered, written);
  EXPECT_FALSE(o.lg->recovery().corruption);
  EXPECT_NE(o.lg->recovery().stop_reason.find("header"), std::string::npos);
}

// Several laps of a small ring with trims at record boundaries, at arbitrary
// offsets inside records, and crashes and clean reopens along the way.
TEST(Wal, WrapsAroundManyLapsWithTrims) {
  auto disk = std::make_shared<fault_disk>(64 * kBlock + 2 * kBlock);  // 256 KiB ring
  options opts = small_options();
  opts.max_group_bytes = 24 << 10;
  opts.max_record_bytes = 20 << 10;
  auto o = must_open(disk, opts);
  const uint64_t cap = o.lg->capacity();
  ASSERT_EQ(cap, 64 * kBlock);
  std::deque<rec> live;
  uint64_t trim = 0;
  std::mt19937 rng(7);
  uint64_t id = 0;
  int reopens = 0, fulls = 0;
  bool straddled = false;
  for (int iter = 1; o.lg->end_offset().value() < 10 * cap; ++iter) {
    // A burst of async appends (grouped), then wait.
    collector c;
    std::vector<std::string> ps;
    int n = 1 + static_cast<int>(rng() % 8);
    int accepted = 0;
    bool full = false;
    for (int i = 0; i < n; ++i) {
      std::string p = make_payload(id++, rng() % 4 == 0 ? 10000 + rng() % 10000 : rng() % 2000);
      auto r = o.lg->append(p, c.cb(static_cast<uint64_t>(accepted)));
      if (!r) {
        ASSERT_TRUE(r.error().is(errc::wal_full)) << r.error().message();
        ++fulls;
        full = true;
        break;
      }
      ps.push_back(p);
      ++accepted;
    }
    ASSERT_TRUE(c.wait(static_cast<size_t>(accepted)));
    {
      std::lock_guard lk(c.mu);
      for (auto& [i, r] : c.done) {
        ASSERT_TRUE(r) << r.error().message();
        uint64_t off = r.value().value();
        if (off / cap != (off + kHdr + ps[i].size() - 1) / cap) straddled = true;
        live.push_back({off, ps[i]});
      }
    }
    ASSERT_LE(o.lg->used(), cap);
    // Trim when full (now and then a bit earlier): to a record, or into the middle of one.
    if ((full || (o.lg->used() > cap / 8 * 7 && rng() % 4 == 0)) && live.size() > 2) {
      size_t k = rng() % (live.size() - 1);
      uint64_t to = live[k].offset + (rng() % 2 ? 0 : 1 + rng() % 10);
      ASSERT_TRUE(o.lg->trim(wal_offset(to))) << to;
      trim = to;
      while (!live.empty() && live.front().offset < trim) live.pop_front();
      EXPECT_EQ(o.lg->trim_offset().value(), trim);
    }
    if (iter % 7 == 0) {
      bool crash = iter % 2;
      if (crash) {
        disk->crash(crash_mode::lose_unflushed);
      } else {
        o.lg->close();
      }
      o.lg.reset();
      o = must_open(disk, opts);
      ASSERT_TRUE(o.lg);
      ASSERT_EQ(o.recovered, std::vector<rec>(live.begin(), live.end()));
      EXPECT_EQ(o.lg->trim_offset().value(), trim);
      EXPECT_EQ(o.lg->recovery().clean_shutdown, !crash);
      ++reopens;
    }
  }
  EXPECT_GT(reopens, 3);
  EXPECT_GT(fulls, 0);
  EXPECT_TRUE(straddled) << "no record crossed the ring end";
}

TEST(Wal, FullUntilTrimmed) {
  auto disk = std::make_shared<fault_disk>(16 * kBlock + 2 * kBlock);
  auto o = must_open(disk);
  std::vector<uint64_t> offs;
  for (;;) {
    auto r = o.lg->append_sync(std::string(5000, 'x'));
    if (!r) {
      EXPECT_TRUE(r.error().is(errc::wal_full)) << r.error().message();
      break;
    }
    offs.push_back(r.value().value());
    ASSERT_LT(offs.size(), 100u);
  }
  EXPECT_LE(o.lg->used(), o.lg->capacity());
  EXPECT_GT(o.lg->used() + 5000 + kHdr, o.lg->capacity());
  EXPECT_TRUE(o.lg->append_sync("small but no room").error().is(errc::wal_full));
  ASSERT_TRUE(o.lg->trim(wal_offset(offs[2])));
  EXPECT_TRUE(o.lg->append_sync(std::string(5000, 'y')));
  ASSERT_TRUE(o.lg->trim(o.lg->end_offset()));
  EXPECT_EQ(o.lg->used(), 0u);
  EXPECT_TRUE(o.lg->append_sync(std::string(5000, 'z')));
}

TEST(Wal, TrimPastTheDurableEndIsRejected) {
  auto disk = std::make_shared<fault_disk>(1 << 20);
  auto o = must_open(disk);
  ASSERT_TRUE(o.lg->append_sync("a"));
  auto r = o.lg->trim(wal_offset(o.lg->end_offset().value() + kBlock));
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(errc::bad_argument));
  EXPECT_TRUE(o.lg->trim(wal_offset(0)));  // at or below the trim point: no-op
}

TEST(Wal, TrimInsideAGroupReplaysOnlyLaterRecords) {
  auto disk = std::make_shared<fault_disk>(1 << 20);
  auto o = must_open(disk);
  collector c;
  disk->pause_writes();
  ASSERT_TRUE(o.lg->append("first", c.cb(0)));
  wait_until([&] { return disk->paused_writers() == 1; });
  std::vector<rec> grp;
  for (int i = 1; i <= 5; ++i) {
    uint64_t off = o.lg->end_offset().value();
    ASSERT_TRUE(o.lg->append(make_payload(i, 500), c.cb(i)));
    grp.push_back({off, make_payload(i, 500)});
  }
  disk->resume_writes();
  ASSERT_TRUE(c.wait(6));
  ASSERT_TRUE(o.lg->trim(wal_offset(grp[2].offset)));
  disk->crash(crash_mode::lose_unflushed);
  o.lg.reset();
  auto o2 = must_open(disk);
  EXPECT_EQ(o2.recovered, std::vector<rec>(grp.begin() + 2, grp.end()));
  EXPECT_EQ(o2.lg->trim_offset().value(), grp[2].offset);
  // Into the middle of a record: that record is before the trim point.
  ASSERT_TRUE(o2.lg->trim(wal_offset(grp[3].offset + 10)));
  o2.lg->close();
  o2.lg.reset();
  auto o3 = must_open(disk);
  EXPECT_EQ(o3.recovered, std::vector<rec>(grp.begin() + 4, grp.end()));
}

TEST(Wal, DamagedHeaderSlotFallsBackToTheOther) {
  auto disk = std::make_shared<fault_disk>(1 << 20);
  std::vector<rec> written;
  {
    auto o = must_open(disk);
    for (int i = 0; i < 10; ++i) {
      auto r = o.lg->append_sync(make_payload(i, 200));
      ASSERT_TRUE(r);
      written.push_back({r.value().value(), make_payload(i, 200)});
    }
    ASSERT_TRUE(o.lg->trim(wal_offset(written[3].offset)));
    ASSERT_TRUE(o.lg->trim(wal_offset(written[6].offset)));
    disk->crash(crash_mode::lose_unflushed);
  }
  int newest = slot_seq(disk, 0) > slot_seq(disk, 1) ? 0 : 1;
  disk->corrupt(newest * kBlock + 40, 1);  // its trim field
  {
    auto o = must_open(disk);
    // The older header: trimmed at record 3, so records 3.. come back.
    EXPECT_EQ(o.recovered, std::vector<rec>(written.begin() + 3, written.end()));
    EXPECT_EQ(o.lg->trim_offset().value(), written[3].offset);
    disk->crash(crash_mode::lose_unflushed);
  }
  disk->corrupt(0, 8);
  disk->corrupt(kBlock, 8);
  disk->corrupt(0, 4);
  disk->corrupt(kBlock, 4);  // magic restored, CRCs wrong: both damaged
  auto o = open_disk(disk);
  ASSERT_FALSE(o);
  EXPECT_TRUE(o.error().is(errc::corrupt)) << o.error().message();
}

TEST(Wal, TornHeaderWriteKeepsThePreviousTrim) {
  auto disk = std::make_shared<fault_disk>(1 << 20);
  std::vector<rec> written;
  auto o = must_open(disk);
  for (int i = 0; i < 6; ++i) {
    auto r = o.lg->append_sync(make_payload(i, 200));
    ASSERT_TRUE(r);
    written.push_back({r.value().value(), make_payload(i, 200)});
  }
  ASSERT_TRUE(o.lg->trim(wal_offset(written[1].offset)));
  disk->tear_next_write(40);  // the header slot write of the next trim
  auto t = o.lg->trim(wal_offset(written[4].offset));
  ASSERT_FALSE(t);
  EXPECT_EQ(o.lg->trim_offset().value(), written[1].offset);
  disk->crash(crash_mode::keep_unflushed);
  o.lg.reset();
  auto o2 = must_open(disk);
  EXPECT_EQ(o2.recovered, std::vector<rec>(written.begin() + 1, written.end()));
}

TEST(Wal, DeviceOfAnotherSizeIsRefused) {
  auto disk = std::make_shared<fault_disk>(1 << 20);
  { must_open(disk).lg->close(); }
  auto bigger = std::make_shared<fault_disk>(2 << 20);
  auto dev = disk->open();
  std::string hdr = disk->durable(0, 2 * kBlock);
  auto bdev = bigger->open();
  char* buf = static_cast<char*>(std::aligned_alloc(kBlock, 2 * kBlock));
  std::memcpy(buf, hdr.data(), 2 * kBlock);
  ASSERT_TRUE(bdev->write(0, buf, 2 * kBlock));
  std::free(buf);
  auto o = open_disk(bigger);
  ASSERT_FALSE(o);
  EXPECT_TRUE(o.error().is(errc::corrupt));
}

TEST(Wal, RecordTooLarge) {
  auto disk = std::make_shared<fault_disk>(1 << 20);
  options opts = small_options();
  opts.max_record_bytes = 2 << 20;
  auto o = must_open(disk, opts);
  auto r = o.lg->append_sync(std::string(small_options().max_record_bytes + 1, 'x'));
  ASSERT_TRUE(r);  // within this log's limit: a group of its own
  auto big = o.lg->append(std::string((2 << 20) + 1, 'x'), [](result<wal_offset>) { ADD_FAILURE(); });
  ASSERT_FALSE(big);
  EXPECT_TRUE(big.error().is(errc::record_too_large));
  auto ring = o.lg->append(std::string(o.lg->capacity(), 'x'), [](result<wal_offset>) { ADD_FAILURE(); });
  ASSERT_FALSE(ring);
  EXPECT_TRUE(ring.error().is(errc::record_too_large));
}

TEST(Wal, RecordLargerThanAGroupIsWrittenAlone) {
  auto disk = std::make_shared<fault_disk>(1 << 20);
  options opts = small_options();
  opts.max_record_bytes = 200 << 10;
  std::vector<rec> written;
  {
    auto o = must_open(disk, opts);
    collector c;
    std::vector<std::string> ps = {make_payload(1, 100), make_payload(2, 150 << 10), make_payload(3, 100)};
    for (size_t i = 0; i < ps.size(); ++i) ASSERT_TRUE(o.lg->append(ps[i], c.cb(i)));
    ASSERT_TRUE(c.wait(3));
    std::lock_guard lk(c.mu);
    for (auto& [i, r] : c.done) {
      ASSERT_TRUE(r);
      written.push_back({r.value().value(), ps[i]});
    }
  }
  auto o = must_open(disk, opts);
  EXPECT_EQ(o.recovered, written);
}

TEST(Wal, AppendWaitsForRoomThenTimesOut) {
  auto disk = std::make_shared<fault_disk>(1 << 20);
  options opts = small_options();
  opts.append_timeout = 100ms;
  auto o = must_open(disk, opts);
  collector c;
  disk->pause_writes();
  ASSERT_TRUE(o.lg->append("a", c.cb(0)));
  wait_until([&] { return disk->paused_writers() == 1; });
  size_t n = 1;
  result<void> r = ok();
  auto t0 = std::chrono::steady_clock::now();
  while ((r = o.lg->append(std::string(4000, 'b'), c.cb(n)))) ++n;
  EXPECT_TRUE(r.error().is(errc::timeout)) << r.error().message();
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 100ms);
  EXPECT_EQ(n, 1 + small_options().max_group_bytes / (4000 + kHdr));
  disk->resume_writes();
  ASSERT_TRUE(c.wait(n));
  EXPECT_TRUE(o.lg->append_sync("after"));
}

TEST(Wal, CloseDrainsQueuedAppendsThenRefuses) {
  auto disk = std::make_shared<fault_disk>(1 << 20);
  disk->set_write_delay(200us);
  auto o = must_open(disk);
  collector c;
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(o.lg->append(make_payload(i, 300), c.cb(i)));
  o.lg->close();
  EXPECT_EQ(c.count(), 200u);
  {
    std::lock_guard lk(c.mu);
    for (auto& [i, r] : c.done) EXPECT_TRUE(r);
  }
  auto a = o.lg->append("x", [](result<wal_offset>) { ADD_FAILURE(); });
  ASSERT_FALSE(a);
  EXPECT_TRUE(a.error().is(errc::closed));
  EXPECT_TRUE(o.lg->trim(wal_offset(0)).error().is(errc::closed));
  o.lg->close();  // idempotent
  o.lg.reset();
  auto o2 = must_open(disk);
  EXPECT_EQ(o2.recovered.size(), 200u);
  EXPECT_TRUE(o2.lg->recovery().clean_shutdown);
  EXPECT_EQ(o2.lg->recovery().zeroed_bytes, 0u);
}

TEST(Wal, FailedWriteFailsTheGroupAndEverythingAfter) {
  auto disk = std::make_shared<fault_disk>(1 << 20);
  auto o = must_open(disk);
  std::vector<rec> acked;
  for (int i = 0; i < 3; ++i) {
    auto r = o.lg->append_sync(make_payload(i, 100));
    ASSERT_TRUE(r);
    acked.push_back({r.value().value(), make_payload(i, 100)});
  }
  disk->fail_writes(1);
  auto r = o.lg->append_sync("doomed");
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(errc::io_error));
  auto r2 = o.lg->append_sync("after");
  ASSERT_FALSE(r2);
  EXPECT_TRUE(r2.error().is(errc::io_error));
  o.lg->close();  // not clean
  o.lg.reset();
  auto o2 = must_open(disk);
  EXPECT_EQ(o2.recovered, acked);
  EXPECT_FALSE(o2.lg->recovery().clean_shutdown);
  EXPECT_TRUE(o2.lg->append_sync("recovered"));
}

TEST(Wal, FailedFlushFailsTheGroup) {
  auto disk = std::make_shared<fault_disk>(1 << 20);
  auto o = must_open(disk);
  std::vector<rec> acked;
  auto a = o.lg->append_sync("a");
  ASSERT_TRUE(a);
  acked.push_back({a.value().value(), "a"});
  disk->fail_flushes(1);
  auto b = o.lg->append_sync("b");
  ASSERT_FALSE(b);
  EXPECT_TRUE(b.error().is(errc::io_error));
  EXPECT_TRUE(o.lg->append_sync("c").error().is(errc::io_error));
  disk->crash(crash_mode::lose_unflushed);
  o.lg.reset();
  auto o2 = must_open(disk);
  EXPECT_EQ(o2.recovered, acked);
}

TEST(Wal, VisitErrorAbortsOpen) {
  auto disk = std::make_shared<fault_disk>(1 << 20);
  {
    auto o = must_open(disk);
    ASSERT_TRUE(o.lg->append_sync("a"));
  }
  auto l = open(disk->open(), small_options(),
                [](const recovered_record&) -> result<void> { return fail(errc::meta_error, "no"); });
  ASSERT_FALSE(l);
  EXPECT_TRUE(l.error().is(errc::meta_error));
}

TEST(Wal, BadOptionsAndDevices) {
  options o = small_options();
  o.max_group_bytes = 0;
  EXPECT_TRUE(open_disk(std::make_shared<fault_disk>(1 << 20), o).error().is(errc::bad_argument));
  EXPECT_TRUE(open_disk(std::make_shared<fault_disk>(3 * kBlock)).error().is(errc::bad_argument));
  EXPECT_TRUE(open(nullptr, small_options(), {}).error().is(errc::bad_argument));
}

// The real file device: created zero-filled, reopened, O_DIRECT on ext4/xfs
// and buffered on tmpfs.
class FileDevice : public ::testing::TestWithParam<std::string> {};

TEST_P(FileDevice, RoundTripAndReopen) {
  std::string base = GetParam();
  if (!fs::is_dir(base)) GTEST_SKIP() << base << " missing";
  std::string tmpl = base + "/wal_test.XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
  std::string path = tmpl + "/wal";
  std::vector<rec> written;
  {
    auto dev = open_file_device(path, 1 << 20);
    ASSERT_TRUE(dev) << dev.error().message();
    EXPECT_EQ(dev.value()->size(), 1u << 20);
    EXPECT_EQ(dev.value()->block_size(), kBlock);
    auto l = open(std::move(dev.value()), small_options(), [](const recovered_record&) -> result<void> {
      ADD_FAILURE();
      return ok();
    });
    ASSERT_TRUE(l) << l.error().message();
    for (int i = 0; i < 20; ++i) {
      auto r = l.value()->append_sync(make_payload(i, 400 * i));
      ASSERT_TRUE(r) << r.error().message();
      written.push_back({r.value().value(), make_payload(i, 400 * i)});
    }
  }
  EXPECT_FALSE(fs::exists(path + ".creating"));
  auto dev = open_file_device(path, 4 << 20);  // existing: its own size wins
  ASSERT_TRUE(dev);
  EXPECT_EQ(dev.value()->size(), 1u << 20);
  std::vector<rec> got;
  auto l = open(std::move(dev.value()), small_options(), [&](const recovered_record& r) -> result<void> {
    got.push_back({r.offset.value(), std::string(r.payload)});
    return ok();
  });
  ASSERT_TRUE(l);
  EXPECT_EQ(got, written);
  l.value().reset();
  (void)fs::remove_all(tmpl);
}

INSTANTIATE_TEST_SUITE_P(Dirs, FileDevice, ::testing::Values("/tmp", "/dev/shm"));

}  // namespace
}  // namespace sluice::stream::wal
