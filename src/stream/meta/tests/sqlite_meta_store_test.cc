#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <stdexcept>
#include <thread>

#include "stream/meta/meta_store.h"

namespace sluice::stream::meta {
namespace {

namespace stdfs = std::filesystem;
using namespace std::chrono_literals;

constexpr offset kMax = std::numeric_limits<offset>::max();

// The value of a result, or a test failure (thrown, so the test stops).
template <class T>
T must(result<T> r, const char* what = "") {
  if (!r) {
    ADD_FAILURE() << what << ": " << r.error().message();
    throw std::runtime_error(r.error().message());
  }
  if constexpr (!std::is_void_v<T>) return std::move(r).value();
}

template <class T>
void expect_error(const result<T>& r, errc e) {
  ASSERT_FALSE(r) << "expected error " << make_error_code(e).message();
  EXPECT_TRUE(r.error().is(e)) << r.error().message();
}

object_range range(uint64_t s, offset start, offset end, uint64_t bytes = 10) {
  return object_range{stream_id(s), start, end, bytes};
}

object_info object(object_id id, std::vector<object_range> ranges, object_kind kind = object_kind::stream_set,
                   uint64_t size = 100) {
  object_info o;
  o.id = id;
  o.kind = kind;
  o.size = size;
  o.ranges = std::move(ranges);
  return o;
}

std::vector<uint64_t> ids_of(const std::vector<object_info>& objects) {
  std::vector<uint64_t> out;
  for (const auto& o : objects) out.push_back(o.id.value());
  return out;
}

std::vector<uint64_t> ids_of(const std::vector<object_id>& objects) {
  std::vector<uint64_t> out;
  for (const auto& o : objects) out.push_back(o.value());
  return out;
}

class MetaStore : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = stdfs::temp_directory_path() /
           ("sluice-meta-" + std::to_string(getpid()) + "-" + std::to_string(rd()));
    stdfs::create_directories(dir_);
    path_ = (dir_ / "meta.db").string();
    reopen();
  }
  void TearDown() override {
    store_.reset();
    stdfs::remove_all(dir_);
  }
  void reopen() {
    store_.reset();
    store_ = must(open_sqlite(path_), "open");
  }

  // A stream opened by node 1.
  stream_info opened_stream(uint32_t node = 1) {
    auto s = must(store_->create_stream({}));
    return must(store_->open_stream(s.id, node_id(node)));
  }

  object_id prepare_one(int64_t now = 1000) { return must(store_->prepare_objects(1, now)).at(0); }

  // Commits one new object holding [start, end) of s and moves s's end there.
  object_id append(const stream_info& s, offset start, offset end, int64_t now = 1000) {
    auto id = prepare_one(now);
    commit_request req;
    req.node = s.owner;
    req.objects.push_back(object(id, {range(s.id.value(), start, end)}));
    req.stream_ends[s.id] = {s.epoch, end};
    must(store_->commit(req, now), "commit");
    return id;
  }

  stdfs::path dir_;
  std::string path_;
  std::unique_ptr<meta_store> store_;
};

TEST_F(MetaStore, CreateStreamAssignsIdsFromOne) {
  std::map<std::string, std::string> tags{
      {"topic", "orders"}, {"partition", "3"}, {std::string("b\xff\0y", 4), "\x01"}};
  for (uint64_t want = 1; want <= 3; ++want) {
    auto s = must(store_->create_stream(tags));
    EXPECT_EQ(s.id.value(), want);
    EXPECT_EQ(s.epoch.value(), 0u);
    EXPECT_EQ(s.state, stream_state::closed);
    EXPECT_EQ(s.start, 0);
    EXPECT_EQ(s.end, 0);
    EXPECT_EQ(s.tags, tags);
    auto got = must(store_->get_stream(s.id));
    EXPECT_EQ(got.tags, tags);
    EXPECT_EQ(got.owner.value(), 0u);
  }
  auto all = must(store_->list_streams());
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[2].id.value(), 3u);
  expect_error(store_->get_stream(stream_id(9)), errc::stream_not_found);
}

TEST_F(MetaStore, OpenBumpsEpochAndFencesOtherOwners) {
  auto s = must(store_->create_stream({}));
  auto a = must(store_->open_stream(s.id, node_id(1)));
  EXPECT_EQ(a.epoch.value(), 1u);
  EXPECT_EQ(a.state, stream_state::opened);
  EXPECT_EQ(a.owner.value(), 1u);

  // Opened by node 1: node 2 may only take it over with force.
  expect_error(store_->open_stream(s.id, node_id(2)), errc::stream_fenced);
  EXPECT_EQ(must(store_->get_stream(s.id)).epoch.value(), 1u);
  auto b = must(store_->open_stream(s.id, node_id(2), true));
  EXPECT_EQ(b.epoch.value(), 2u);
  EXPECT_EQ(b.owner.value(), 2u);
  // The old owner is fenced everywhere.
  expect_error(store_->close_stream(s.id, a.epoch), errc::stream_fenced);
  expect_error(store_->trim_stream(s.id, a.epoch, 5), errc::stream_fenced);
  expect_error(store_->delete_stream(s.id, a.epoch), errc::stream_fenced);
  // The same node reopening (restart) gets a new epoch.
  auto c = must(store_->open_stream(s.id, node_id(2)));
  EXPECT_EQ(c.epoch.value(), 3u);
  expect_error(store_->close_stream(s.id, b.epoch), errc::stream_fenced);

  EXPECT_EQ(must(store_->opened_streams(node_id(2))).size(), 1u);
  EXPECT_TRUE(must(store_->opened_streams(node_id(1))).empty());
  must(store_->close_stream(s.id, c.epoch));
  must(store_->close_stream(s.id, c.epoch));  // idempotent
  auto closed = must(store_->get_stream(s.id));
  EXPECT_EQ(closed.state, stream_state::closed);
  EXPECT_EQ(closed.epoch.value(), 3u);
  EXPECT_TRUE(must(store_->opened_streams(node_id(2))).empty());

  // Closed: anyone may open it.
  auto d = must(store_->open_stream(s.id, node_id(1)));
  EXPECT_EQ(d.epoch.value(), 4u);
  expect_error(store_->open_stream(stream_id(77), node_id(1)), errc::stream_not_found);
  expect_error(store_->close_stream(stream_id(77), d.epoch), errc::stream_not_found);
}

TEST_F(MetaStore, OpenedStreamsListsOnlyThisNodesOpenStreams) {
  auto a = opened_stream(1);
  auto b = opened_stream(2);
  auto c = opened_stream(1);
  must(store_->create_stream({}));  // never opened
  must(store_->close_stream(c.id, c.epoch));
  auto mine = must(store_->opened_streams(node_id(1)));
  ASSERT_EQ(mine.size(), 1u);
  EXPECT_EQ(mine[0].id, a.id);
  ASSERT_EQ(must(store_->opened_streams(node_id(2))).size(), 1u);
  EXPECT_EQ(must(store_->opened_streams(node_id(2)))[0].id, b.id);
}

TEST_F(MetaStore, TrimOnlyMovesForwardAndMayPassTheEnd) {
  auto s = opened_stream();
  append(s, 0, 100);
  must(store_->trim_stream(s.id, s.epoch, 50));
  auto got = must(store_->get_stream(s.id));
  EXPECT_EQ(got.start, 50);
  EXPECT_EQ(got.end, 100);
  must(store_->trim_stream(s.id, s.epoch, 30));
  EXPECT_EQ(must(store_->get_stream(s.id)).start, 50);
  must(store_->trim_stream(s.id, s.epoch, 150));
  got = must(store_->get_stream(s.id));
  EXPECT_EQ(got.start, 150);
  EXPECT_EQ(got.end, 150);
  expect_error(store_->trim_stream(s.id, stream::epoch(0), 200), errc::stream_fenced);
  expect_error(store_->trim_stream(stream_id(99), s.epoch, 200), errc::stream_not_found);
}

TEST_F(MetaStore, DeleteStreamRemovesItAndIdsAreNotReused) {
  auto s = opened_stream();
  expect_error(store_->delete_stream(s.id, stream::epoch(0)), errc::stream_fenced);
  must(store_->delete_stream(s.id, s.epoch));
  expect_error(store_->get_stream(s.id), errc::stream_not_found);
  expect_error(store_->open_stream(s.id, node_id(1)), errc::stream_not_found);
  expect_error(store_->objects_for(s.id, 0, 10), errc::stream_not_found);
  expect_error(store_->delete_stream(s.id, s.epoch), errc::stream_not_found);
  EXPECT_TRUE(must(store_->list_streams()).empty());
  EXPECT_EQ(must(store_->create_stream({})).id.value(), 2u);
}

TEST_F(MetaStore, PrepareReservesAscendingIds) {
  auto a = must(store_->prepare_objects(3, 1234));
  EXPECT_EQ(ids_of(a), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_TRUE(must(store_->prepare_objects(0, 1234)).empty());
  expect_error(store_->prepare_objects(1000000, 1234), errc::bad_argument);
  auto b = must(store_->prepare_objects(2, 1300));
  EXPECT_EQ(ids_of(b), (std::vector<uint64_t>{4, 5}));
  auto prepared = must(store_->list_objects(object_state::prepared));
  ASSERT_EQ(prepared.size(), 5u);
  EXPECT_EQ(prepared[0].state_time_ms, 1234);
  EXPECT_EQ(prepared[4].state_time_ms, 1300);
  EXPECT_TRUE(prepared[0].ranges.empty());
  EXPECT_TRUE(must(store_->list_objects(object_state::committed)).empty());
}

TEST_F(MetaStore, CommitMakesObjectsVisibleAndAdvancesEnds) {
  auto s1 = opened_stream();
  auto s2 = opened_stream();
  auto ids = must(store_->prepare_objects(2, 1000));
  commit_request req;
  req.node = node_id(1);
  // Ranges given out of stream order: stored sorted.
  auto sso = object(ids[0], {range(2, 0, 7, 70), range(1, 0, 10, 100)}, object_kind::stream_set, 170);
  sso.data_time_ms = 900;
  req.objects.push_back(sso);
  req.objects.push_back(object(ids[1], {range(1, 10, 30, 200)}, object_kind::stream, 200));
  req.stream_ends[s1.id] = {s1.epoch, 30};
  req.stream_ends[s2.id] = {s2.epoch, 7};
  must(store_->commit(req, 2000));

  auto committed = must(store_->list_objects(object_state::committed));
  ASSERT_EQ(committed.size(), 2u);
  const auto& a = committed[0];
  EXPECT_EQ(a.id, ids[0]);
  EXPECT_EQ(a.kind, object_kind::stream_set);
  EXPECT_EQ(a.state, object_state::committed);
  EXPECT_EQ(a.size, 170u);
  EXPECT_EQ(a.data_time_ms, 900);
  EXPECT_EQ(a.state_time_ms, 2000);
  ASSERT_EQ(a.ranges.size(), 2u);
  EXPECT_EQ(a.ranges[0].stream.value(), 1u);
  EXPECT_EQ(a.ranges[0].end, 10);
  EXPECT_EQ(a.ranges[0].bytes, 100u);
  EXPECT_EQ(a.ranges[1].stream.value(), 2u);
  const auto& b = committed[1];
  EXPECT_EQ(b.kind, object_kind::stream);
  EXPECT_EQ(b.data_time_ms, 2000);  // none given: the commit time
  EXPECT_GT(b.order, a.order);
  EXPECT_EQ(must(store_->get_stream(s1.id)).end, 30);
  EXPECT_EQ(must(store_->get_stream(s2.id)).end, 7);

  // Ends never move back; a commit after close (same epoch) is accepted.
  must(store_->close_stream(s1.id, s1.epoch));
  commit_request back;
  back.node = node_id(1);
  back.stream_ends[s1.id] = {s1.epoch, 20};
  must(store_->commit(back, 2100));
  EXPECT_EQ(must(store_->get_stream(s1.id)).end, 30);
  EXPECT_EQ(must(store_->list_objects()).size(), 2u);
}

TEST_F(MetaStore, FailedCommitChangesNothing) {
  auto s1 = opened_stream();
  auto s2 = opened_stream();
  auto old = append(s1, 0, 10);
  append(s2, 0, 10);
  auto ids = must(store_->prepare_objects(2, 1000));
  auto before_objects = must(store_->list_objects());
  auto before_streams = must(store_->list_streams());

  auto valid = [&] {
    commit_request req;
    req.node = node_id(1);
    req.objects.push_back(object(ids[0], {range(1, 0, 20), range(2, 10, 20)}));
    req.objects.push_back(object(ids[1], {range(1, 20, 25)}, object_kind::stream));
    req.compacted.push_back(old);
    req.stream_ends[s1.id] = {s1.epoch, 25};
    req.stream_ends[s2.id] = {s2.epoch, 20};
    return req;
  };
  auto check_unchanged = [&](const char* what) {
    SCOPED_TRACE(what);
    auto objects = must(store_->list_objects());
    ASSERT_EQ(objects.size(), before_objects.size());
    for (size_t i = 0; i < objects.size(); ++i) {
      EXPECT_EQ(objects[i].id, before_objects[i].id);
      EXPECT_EQ(objects[i].state, before_objects[i].state);
      EXPECT_EQ(objects[i].ranges.size(), before_objects[i].ranges.size());
    }
    auto streams = must(store_->list_streams());
    for (size_t i = 0; i < streams.size(); ++i) EXPECT_EQ(streams[i].end, before_streams[i].end);
  };

  // Stream 2 was taken over: the whole commit is fenced.
  auto s2b = must(store_->open_stream(s2.id, node_id(2), true));
  before_streams = must(store_->list_streams());
  expect_error(store_->commit(valid(), 2000), errc::stream_fenced);
  check_unchanged("stale epoch");
  // Right epoch, wrong node.
  {
    auto req = valid();
    req.stream_ends[s2.id] = {s2b.epoch, 20};
    expect_error(store_->commit(req, 2000), errc::stream_fenced);
    check_unchanged("wrong node");
  }
  s2 = must(store_->open_stream(s2.id, node_id(1), true));
  before_streams = must(store_->list_streams());
  auto fixed = [&] {
    auto req = valid();
    req.stream_ends[s2.id] = {s2.epoch, 20};
    return req;
  };
  struct bad_case {
    const char* what;
    std::function<void(commit_request&)> mutate;
    errc want;
  };
  std::vector<bad_case> cases{
      {"unknown object", [](commit_request& r) { r.objects[1].id = object_id(999); }, errc::object_not_found},
      {"committed object",
       [&](commit_request& r) {
         r.objects[1].id = old;
         r.compacted.clear();
       },
       errc::bad_argument},
      {"unknown compacted", [](commit_request& r) { r.compacted.push_back(object_id(999)); },
       errc::object_not_found},
      {"prepared compacted",
       [&](commit_request& r) {
         r.compacted = {ids[1]};
         r.objects.pop_back();
       },
       errc::bad_argument},
      {"object twice", [](commit_request& r) { r.objects.push_back(r.objects[0]); }, errc::bad_argument},
      {"object and compacted", [&](commit_request& r) { r.compacted.push_back(ids[0]); }, errc::bad_argument},
      {"empty range", [](commit_request& r) { r.objects[0].ranges[0].end = 0; }, errc::bad_argument},
      {"no ranges", [](commit_request& r) { r.objects[0].ranges.clear(); }, errc::bad_argument},
      {"stream twice", [](commit_request& r) { r.objects[0].ranges[1].stream = stream_id(1); },
       errc::bad_argument},
      {"stream object with 2 ranges", [](commit_request& r) { r.objects[0].kind = object_kind::stream; },
       errc::bad_argument},
      {"never created stream", [](commit_request& r) { r.objects[0].ranges[1].stream = stream_id(50); },
       errc::bad_argument},
      {"unknown end stream",
       [](commit_request& r) {
         r.stream_ends[stream_id(50)] = {stream::epoch(1), 5};
       },
       errc::stream_not_found},
  };
  for (auto& c : cases) {
    auto req = fixed();
    c.mutate(req);
    expect_error(store_->commit(req, 2000), c.want);
    check_unchanged(c.what);
  }
  // The request itself was fine.
  must(store_->commit(fixed(), 2000));
  EXPECT_EQ(must(store_->get_stream(s1.id)).end, 25);
  EXPECT_EQ(must(store_->list_objects(object_state::deleting)).size(), 1u);
}

TEST_F(MetaStore, ObjectsForFindsOverlapsInOrder) {
  auto s = opened_stream();
  auto other = opened_stream();
  std::vector<object_id> ids;
  for (int i = 0; i < 100; ++i) ids.push_back(append(s, i * 10, i * 10 + 10));
  append(other, 0, 1000);

  auto got = must(store_->objects_for(s.id, 35, 57));
  EXPECT_EQ(ids_of(got), (std::vector<uint64_t>{ids[3].value(), ids[4].value(), ids[5].value()}));
  ASSERT_EQ(got[0].ranges.size(), 1u);
  EXPECT_EQ(got[0].ranges[0].start, 30);
  EXPECT_EQ(ids_of(must(store_->objects_for(s.id, 40, 50))), (std::vector<uint64_t>{ids[4].value()}));
  EXPECT_EQ(ids_of(must(store_->objects_for(s.id, 0, 1))), (std::vector<uint64_t>{ids[0].value()}));
  EXPECT_EQ(ids_of(must(store_->objects_for(s.id, 999, kMax))), (std::vector<uint64_t>{ids[99].value()}));
  EXPECT_EQ(must(store_->objects_for(s.id, 0, kMax)).size(), 100u);
  EXPECT_TRUE(must(store_->objects_for(s.id, 1000, 2000)).empty());
  EXPECT_TRUE(must(store_->objects_for(s.id, 50, 50)).empty());
  EXPECT_TRUE(must(store_->objects_for(s.id, 60, 50)).empty());

  // Compaction: [30, 60) now lives in one stream object; the old ones are excluded.
  auto so = prepare_one();
  commit_request req;
  req.objects.push_back(object(so, {range(s.id.value(), 30, 60)}, object_kind::stream));
  req.compacted = {ids[3], ids[4], ids[5]};
  must(store_->commit(req, 3000));
  EXPECT_EQ(ids_of(must(store_->objects_for(s.id, 35, 57))), (std::vector<uint64_t>{so.value()}));
  EXPECT_EQ(ids_of(must(store_->objects_for(s.id, 25, 65))),
            (std::vector<uint64_t>{ids[2].value(), so.value(), ids[6].value()}));

  // A long range committed later (ties on start: newest first) widens the search below `from`.
  auto big = prepare_one();
  commit_request big_req;
  big_req.objects.push_back(object(big, {range(s.id.value(), 900, 1000), range(other.id.value(), 0, 5)}));
  must(store_->commit(big_req, 3000));
  got = must(store_->objects_for(s.id, 995, 996));
  EXPECT_EQ(ids_of(got), (std::vector<uint64_t>{big.value(), ids[99].value()}));
  ASSERT_EQ(got[0].ranges.size(), 1u);  // only the range of s
  EXPECT_EQ(got[0].ranges[0].stream, s.id);
  EXPECT_EQ(got[0].ranges[0].end, 1000);
  got = must(store_->objects_for(s.id, 900, 905));
  EXPECT_EQ(ids_of(got), (std::vector<uint64_t>{big.value(), ids[90].value()}));
}

TEST_F(MetaStore, ObjectsForMatchesABruteForceScan) {
  auto s = opened_stream();
  std::mt19937 rng(7);
  for (int i = 0; i < 150; ++i) {
    offset start = rng() % 5000;
    offset len = 1 + (i % 30 == 0 ? rng() % 2000 : rng() % 80);
    auto id = prepare_one();
    commit_request req;
    req.objects.push_back(object(id, {range(s.id.value(), start, start + len)}));
    if (i % 7 == 3) {
      auto committed = must(store_->list_objects(object_state::committed));
      req.compacted.push_back(committed[rng() % committed.size()].id);
    }
    must(store_->commit(req, 1000 + i));
  }
  auto all = must(store_->list_objects(object_state::committed));
  for (int q = 0; q < 300; ++q) {
    offset from = rng() % 7000, to = from + 1 + rng() % 300;
    std::vector<std::pair<offset, uint64_t>> want;  // (start, -order) sorts like objects_for
    std::map<uint64_t, uint64_t> id_by_order;
    for (const auto& o : all) {
      const auto& r = o.ranges[0];
      if (r.start < to && r.end > from) {
        want.emplace_back(r.start, ~o.order);
        id_by_order[~o.order] = o.id.value();
      }
    }
    std::sort(want.begin(), want.end());
    std::vector<uint64_t> want_ids;
    for (auto& [start, key] : want) want_ids.push_back(id_by_order[key]);
    ASSERT_EQ(ids_of(must(store_->objects_for(s.id, from, to))), want_ids)
        << "[" << from << ", " << to << ")";
  }
}

TEST_F(MetaStore, TrimExpiresObjectsWhichBecomeDeletableAfterGrace) {
  auto s = opened_stream();
  auto other = opened_stream();
  auto a = append(s, 0, 10);
  auto b = append(s, 10, 20);
  // A stream-set object shared with `other` stays while other's range is live.
  auto shared = prepare_one();
  commit_request req;
  req.node = node_id(1);
  req.objects.push_back(object(shared, {range(s.id.value(), 20, 30), range(other.id.value(), 0, 5)}));
  req.stream_ends[s.id] = {s.epoch, 30};
  req.stream_ends[other.id] = {other.epoch, 5};
  must(store_->commit(req, 1000));

  EXPECT_EQ(must(store_->expire_trimmed_objects(2000)), 0u);
  must(store_->trim_stream(s.id, s.epoch, 15));  // a is dead, b is not
  EXPECT_EQ(must(store_->expire_trimmed_objects(2000)), 1u);
  auto deleting = must(store_->list_objects(object_state::deleting));
  ASSERT_EQ(deleting.size(), 1u);
  EXPECT_EQ(deleting[0].id, a);
  EXPECT_EQ(deleting[0].state_time_ms, 2000);
  EXPECT_EQ(ids_of(must(store_->objects_for(s.id, 0, kMax))),
            (std::vector<uint64_t>{b.value(), shared.value()}));

  must(store_->trim_stream(s.id, s.epoch, 30));  // b dead; shared lives on in `other`
  EXPECT_EQ(must(store_->expire_trimmed_objects(3000)), 1u);
  EXPECT_EQ(must(store_->expire_trimmed_objects(3000)), 0u);
  must(store_->delete_stream(other.id, other.epoch));
  EXPECT_EQ(must(store_->expire_trimmed_objects(4000)), 1u);

  EXPECT_TRUE(must(store_->deletable(2000 + 999, 1000ms)).empty());
  EXPECT_EQ(ids_of(must(store_->deletable(3000, 1000ms))), (std::vector<uint64_t>{a.value()}));
  EXPECT_EQ(ids_of(must(store_->deletable(5000, 1000ms))),
            (std::vector<uint64_t>{a.value(), b.value(), shared.value()}));
  EXPECT_EQ(
      must(store_->deletable(std::numeric_limits<int64_t>::min(), std::chrono::milliseconds::max())).size(),
      0u);

  // Forgetting: only deleting objects; unknown ids are ignored; all or nothing.
  auto live = append(s, 30, 40);
  expect_error(store_->forget_objects({a, live}), errc::bad_argument);
  EXPECT_EQ(must(store_->list_objects()).size(), 4u);
  must(store_->forget_objects({a, object_id(12345)}));
  must(store_->forget_objects({a}));
  EXPECT_EQ(ids_of(must(store_->deletable(5000, 1000ms))),
            (std::vector<uint64_t>{b.value(), shared.value()}));
  must(store_->forget_objects({b, shared}));
  auto left = must(store_->list_objects());
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].id, live);
}

TEST_F(MetaStore, PreparedObjectsExpireAfterTtl) {
  auto early = must(store_->prepare_objects(2, 1000));
  auto late = prepare_one(5000);
  EXPECT_EQ(must(store_->expire_prepared(1000 + 9999, 10s)), 0u);
  EXPECT_EQ(must(store_->expire_prepared(1000 + 10000, 10s)), 2u);
  auto deleting = must(store_->list_objects(object_state::deleting));
  ASSERT_EQ(deleting.size(), 2u);
  EXPECT_EQ(deleting[0].state_time_ms, 11000);
  EXPECT_EQ(must(store_->list_objects(object_state::prepared))[0].id, late);

  // A late commit of an expired object fails.
  auto s = opened_stream();
  commit_request req;
  req.objects.push_back(object(early[0], {range(s.id.value(), 0, 1)}));
  expect_error(store_->commit(req, 12000), errc::bad_argument);

  EXPECT_TRUE(must(store_->deletable(11000 + 59999, 1min)).empty());
  EXPECT_EQ(ids_of(must(store_->deletable(11000 + 60000, 1min))), ids_of(early));
}

TEST_F(MetaStore, KvGetPutErase) {
  EXPECT_FALSE(must(store_->get("missing")).has_value());
  must(store_->put("a", "1"));
  EXPECT_EQ(must(store_->get("a")), "1");
  must(store_->put("a", "2"));
  EXPECT_EQ(must(store_->get("a")), "2");
  must(store_->erase("a"));
  EXPECT_FALSE(must(store_->get("a")).has_value());
  must(store_->erase("a"));  // missing: fine

  std::string key("k\0\xff", 3), value("\0\x01\xff\0", 4);
  must(store_->put(key, value));
  EXPECT_EQ(must(store_->get(key)), value);
  EXPECT_FALSE(must(store_->get("k")).has_value());
  must(store_->put("", ""));  // empty key and empty value are values, not NULL
  auto empty = must(store_->get(""));
  ASSERT_TRUE(empty.has_value());
  EXPECT_EQ(*empty, "");
  std::string big(1 << 20, 'x');
  must(store_->put("big", big));
  EXPECT_EQ(must(store_->get("big")), big);
}

TEST_F(MetaStore, KvScanByPrefixIncluding0xFF) {
  const std::string ff("\xff"), zero("\0", 1);
  std::vector<std::string> keys{"", "a",     "a" + ff,  "a" + ff + ff, "a" + ff + zero, "ab", "b",
                                ff, ff + ff, ff + zero, zero,          "a" + zero,      "c"};
  for (const auto& k : keys) must(store_->put(k, "v" + k));
  auto scan_keys = [&](const std::string& prefix) {
    std::vector<std::string> out;
    for (auto& [k, v] : must(store_->scan(prefix))) {
      EXPECT_EQ(v, "v" + k);
      out.push_back(k);
    }
    return out;
  };
  using v = std::vector<std::string>;
  EXPECT_EQ(scan_keys("a"), (v{"a", "a" + zero, "ab", "a" + ff, "a" + ff + zero, "a" + ff + ff}));
  EXPECT_EQ(scan_keys("a" + ff), (v{"a" + ff, "a" + ff + zero, "a" + ff + ff}));
  EXPECT_EQ(scan_keys(ff), (v{ff, ff + zero, ff + ff}));
  EXPECT_EQ(scan_keys(ff + ff), (v{ff + ff}));
  EXPECT_EQ(scan_keys(zero), (v{zero}));
  EXPECT_EQ(scan_keys("d"), v{});
  EXPECT_EQ(scan_keys("ab"), (v{"ab"}));
  auto all = scan_keys("");
  std::sort(keys.begin(), keys.end());  // std::string orders bytes as unsigned, like SQLite's memcmp
  EXPECT_EQ(all, keys);

  // Against a brute-force filter on random keys over a small alphabet.
  std::mt19937 rng(11);
  const char alphabet[] = {'\0', 'a', '\xfe', '\xff'};
  std::set<std::string> all_keys(keys.begin(), keys.end());
  for (int i = 0; i < 300; ++i) {
    std::string k;
    for (size_t n = rng() % 5; n > 0; --n) k.push_back(alphabet[rng() % 4]);
    must(store_->put(k, "v" + k));
    all_keys.insert(k);
  }
  for (int i = 0; i < 100; ++i) {
    std::string prefix;
    for (size_t n = rng() % 4; n > 0; --n) prefix.push_back(alphabet[rng() % 4]);
    v want;
    for (const auto& k : all_keys) {
      if (k.starts_with(prefix)) want.push_back(k);
    }
    ASSERT_EQ(scan_keys(prefix), want);
  }
}

TEST_F(MetaStore, EverythingSurvivesReopen) {
  auto s = opened_stream();
  auto a = append(s, 0, 10);
  append(s, 10, 20);
  must(store_->trim_stream(s.id, s.epoch, 10));
  must(store_->expire_trimmed_objects(5000));
  must(store_->prepare_objects(1, 6000));
  must(store_->put("topic/x", "{}"));
  auto before = must(store_->list_objects());

  reopen();
  auto got = must(store_->get_stream(s.id));
  EXPECT_EQ(got.epoch, s.epoch);
  EXPECT_EQ(got.state, stream_state::opened);
  EXPECT_EQ(got.start, 10);
  EXPECT_EQ(got.end, 20);
  EXPECT_EQ(must(store_->opened_streams(node_id(1))).size(), 1u);
  auto after = must(store_->list_objects());
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i].id, before[i].id);
    EXPECT_EQ(after[i].state, before[i].state);
    EXPECT_EQ(after[i].order, before[i].order);
  }
  EXPECT_EQ(ids_of(must(store_->deletable(5000, 0ms))), (std::vector<uint64_t>{a.value()}));
  EXPECT_EQ(must(store_->get("topic/x")), "{}");
  // Counters continue: ids are never reused.
  EXPECT_EQ(must(store_->create_stream({})).id.value(), 2u);
  EXPECT_EQ(prepare_one().value(), 4u);
  auto next = append(s, 20, 30);
  EXPECT_GT(must(store_->objects_for(s.id, 20, 30))[0].order, after[1].order);
  EXPECT_EQ(next.value(), 5u);
}

TEST_F(MetaStore, InMemoryStoreForTests) {
  auto mem = must(open_sqlite(":memory:"));
  auto s = must(mem->create_stream({}));
  EXPECT_EQ(s.id.value(), 1u);
  must(mem->put("k", "v"));
  EXPECT_EQ(must(mem->get("k")), "v");
}

// Writes, in a child process, commits and puts; after each acknowledged call
// it reports i on the pipe. The parent SIGKILLs the child at a random moment
// and checks that everything acknowledged is there, and nothing half-done.
void child_writes(const std::string& path, int fd) {
  auto store = open_sqlite(path);
  if (!store) _exit(10);
  auto& m = *store.value();
  auto s = m.create_stream({});
  if (!s) _exit(11);
  auto opened = m.open_stream(s.value().id, node_id(1));
  if (!opened) _exit(12);
  for (int32_t i = 0; i < 1000000; ++i) {
    auto ids = m.prepare_objects(1, 1000);
    if (!ids) _exit(13);
    commit_request req;
    req.node = node_id(1);
    req.objects.push_back(object(ids.value()[0], {range(1, i * 10, i * 10 + 10)}));
    req.stream_ends[stream_id(1)] = {opened.value().epoch, i * 10 + 10};
    if (!m.commit(req, 1000)) _exit(14);
    if (!m.put("k" + std::to_string(i), std::to_string(i))) _exit(15);
    if (::write(fd, &i, sizeof i) != sizeof i) _exit(16);
  }
  _exit(0);
}

TEST_F(MetaStore, AcknowledgedWritesSurviveKill9) {
  store_.reset();  // the child must not inherit an open connection
  std::mt19937 rng(std::random_device{}());
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE(round);
    stdfs::remove(path_);
    stdfs::remove(path_ + "-wal");
    stdfs::remove(path_ + "-shm");
    int p[2];
    ASSERT_EQ(::pipe(p), 0);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(p[0]);
      child_writes(path_, p[1]);
    }
    ::close(p[1]);
    int32_t last = -1, i;
    int want = 20 + static_cast<int>(rng() % 40);
    while (last + 1 < want && ::read(p[0], &i, sizeof i) == sizeof i) last = i;
    ::usleep(rng() % 3000);  // somewhere inside the next calls
    ::kill(pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    while (::read(p[0], &i, sizeof i) == sizeof i) last = i;  // acks written before the kill
    ::close(p[0]);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
    ASSERT_GE(last + 1, want);

    reopen();
    auto s = must(store_->get_stream(stream_id(1)));
    ASSERT_GE(s.end, (last + 1) * 10);
    // All committed objects are there, contiguous, and match the end exactly
    // (an unacknowledged commit is either all there or not at all).
    auto objects = must(store_->objects_for(s.id, 0, kMax));
    ASSERT_EQ(static_cast<offset>(objects.size()) * 10, s.end);
    for (size_t j = 0; j < objects.size(); ++j)
      EXPECT_EQ(objects[j].ranges[0].start, static_cast<offset>(j) * 10);
    for (int32_t j = 0; j <= last; ++j)
      EXPECT_EQ(must(store_->get("k" + std::to_string(j))), std::to_string(j));
    store_.reset();
  }
}

TEST_F(MetaStore, ConcurrentCommitsAndReads) {
  constexpr int kWriters = 4, kCommits = 30;
  std::vector<stream_info> streams;
  for (int w = 0; w < kWriters; ++w) streams.push_back(opened_stream());
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      const auto& s = streams[w];
      for (int i = 0; i < kCommits; ++i) {
        auto ids = store_->prepare_objects(1, 1000);
        if (!ids) return (void)++failures;
        commit_request req;
        req.node = s.owner;
        req.objects.push_back(object(ids.value()[0], {range(s.id.value(), i * 10, i * 10 + 10)}));
        req.stream_ends[s.id] = {s.epoch, i * 10 + 10};
        if (!store_->commit(req, 1000)) ++failures;
        if (!store_->put("w" + std::to_string(w), std::to_string(i))) ++failures;
      }
    });
  }
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back([&] {
      while (!stop) {
        for (const auto& s : streams) {
          // Ends only grow and commits are atomic: objects cover at least [0, end).
          auto info = store_->get_stream(s.id);
          auto objects = store_->objects_for(s.id, 0, kMax);
          if (!info || !objects) {
            ++failures;
            continue;
          }
          offset next = 0;
          for (const auto& o : objects.value()) {
            if (o.ranges[0].start != next) ++failures;
            next = o.ranges[0].end;
          }
          if (next < info.value().end) ++failures;
        }
        if (!store_->scan("w")) ++failures;
      }
    });
  }
  for (int w = 0; w < kWriters; ++w) threads[w].join();
  stop = true;
  for (size_t t = kWriters; t < threads.size(); ++t) threads[t].join();
  EXPECT_EQ(failures.load(), 0);
  for (const auto& s : streams) EXPECT_EQ(must(store_->get_stream(s.id)).end, kCommits * 10);
  EXPECT_EQ(must(store_->list_objects(object_state::committed)).size(), size_t{kWriters * kCommits});
  EXPECT_EQ(must(store_->scan("w")).size(), size_t{kWriters});
}

void raw_exec(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* msg = nullptr;
  EXPECT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, &msg), SQLITE_OK) << (msg ? msg : "");
  sqlite3_free(msg);
  sqlite3_close(db);
}

TEST_F(MetaStore, UsesWalJournal) {
  store_.reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)), "wal");
  sqlite3_finalize(st);
  sqlite3_close(db);
}

TEST_F(MetaStore, RefusesNewerSchema) {
  must(store_->put("k", "v"));
  store_.reset();
  raw_exec(path_, "PRAGMA user_version=2");
  auto r = open_sqlite(path_);
  expect_error(r, errc::meta_error);
  EXPECT_NE(r.error().message().find("schema version 2 is newer"), std::string::npos) << r.error().message();
  // Back at this build's version it opens again, data intact.
  raw_exec(path_, "PRAGMA user_version=1");
  reopen();
  EXPECT_EQ(must(store_->get("k")), "v");
}

TEST_F(MetaStore, RefusesOtherFiles) {
  auto other = (dir_ / "other.db").string();
  raw_exec(other, "CREATE TABLE t (x)");
  auto r = open_sqlite(other);
  expect_error(r, errc::meta_error);
  EXPECT_NE(r.error().message().find("not a Sluice metadata database"), std::string::npos)
      << r.error().message();

  auto garbage = (dir_ / "garbage.db").string();
  std::ofstream(garbage) << std::string(8192, 'x');
  expect_error(open_sqlite(garbage), errc::meta_error);
  expect_error(open_sqlite((dir_ / "no/such/dir/x.db").string()), errc::meta_error);
}

}  // namespace
}  // namespace sluice::stream::meta
