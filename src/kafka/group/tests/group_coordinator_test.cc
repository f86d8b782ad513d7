#include "kafka/group/group_coordinator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "kafka/group/internal/consumer_protocol.h"
#include "kafka/group/tests/test_util.h"
#include "stream/meta/meta_store.h"

namespace sluice::kafka::group {
namespace {

using namespace std::chrono_literals;
using testing::awaited;
using testing::subscription;

constexpr int32_t kSession = 10'000;
constexpr int32_t kRebalance = 20'000;
constexpr int64_t kDelay = 100;  // initial rebalance delay in these tests

class GroupTest : public ::testing::Test {
 protected:
  void SetUp() override { open(); }

  virtual coordinator_options options() {
    coordinator_options o;
    o.clock = clock_;
    o.background_timer = false;
    o.initial_rebalance_delay = std::chrono::milliseconds(kDelay);
    return o;
  }

  void open() {
    coord_.reset();
    auto c = group_coordinator::open(options(), store_);
    ASSERT_TRUE(c) << c.error().message();
    coord_ = std::move(c).value();
  }

  // Moves time in small steps, running timers at each, so timers fire
  // on time (as they do on the real clock) rather than all at the end.
  void advance(int64_t ms) {
    const int64_t step = ms > 600'000 ? 1'000 : 10;
    while (ms > 0) {
      int64_t d = std::min(step, ms);
      clock_->advance(d);
      coord_->run_timers();
      ms -= d;
    }
  }

  static join_request join_req(const std::string& member_id, std::vector<join_protocol> protocols = {},
                               std::optional<std::string> instance = {}, const std::string& group = "g") {
    join_request r;
    r.group_id = group;
    r.member_id = member_id;
    r.group_instance_id = std::move(instance);
    r.protocol_type = "consumer";
    r.protocols = protocols.empty() ? std::vector<join_protocol>{{"range", subscription({"t"})}} : protocols;
    r.session_timeout_ms = kSession;
    r.rebalance_timeout_ms = kRebalance;
    r.require_known_member_id = true;
    r.client_id = "client";
    r.client_host = "/127.0.0.1";
    return r;
  }

  awaited<join_response> join(join_request r) {
    awaited<join_response> a;
    coord_->join(std::move(r), a.callback());
    return a;
  }

  // A JoinGroup answered at once.
  join_response join_now(join_request r) {
    auto a = join(std::move(r));
    EXPECT_TRUE(a.ready());
    return a.ready() ? a.get() : join_response{};
  }

  // KIP-394: asks for a member id, rejoins with it (parked).
  awaited<join_response> join_new(std::vector<join_protocol> protocols = {},
                                  std::optional<std::string> instance = {}) {
    std::string id;
    if (!instance) {
      auto first = join_now(join_req("", protocols));
      EXPECT_EQ(first.error, errc::member_id_required);
      id = first.member_id;
    }
    return join(join_req(id, protocols, instance));
  }

  awaited<sync_response> sync(const std::string& member_id, int32_t generation,
                              std::vector<sync_assignment> assignments = {},
                              std::optional<std::string> instance = {}) {
    sync_request r;
    r.group_id = "g";
    r.member_id = member_id;
    r.generation_id = generation;
    r.group_instance_id = std::move(instance);
    r.assignments = std::move(assignments);
    awaited<sync_response> a;
    coord_->sync(std::move(r), a.callback());
    return a;
  }

  errc heartbeat(const std::string& member_id, int32_t generation, std::optional<std::string> instance = {}) {
    return coord_->heartbeat(heartbeat_request{"g", generation, member_id, std::move(instance)});
  }

  errc commit(const std::string& member_id, int32_t generation, const std::string& topic, int32_t partition,
              int64_t offset, const std::string& group = "g") {
    offset_commit_request r;
    r.group_id = group;
    r.member_id = member_id;
    r.generation_id = generation;
    r.topics.push_back({topic, {{partition, offset, 5, "meta"}}});
    auto res = coord_->commit_offsets(r);
    EXPECT_EQ(res.topics.size(), 1u);
    return res.topics.at(0).partitions.at(0).error;
  }

  int64_t fetch(const std::string& topic, int32_t partition, const std::string& group = "g") {
    offset_fetch_request r;
    r.group_id = group;
    r.topics = std::vector<fetch_topic>{{topic, {partition}}};
    auto res = coord_->fetch_offsets(r);
    EXPECT_EQ(res.error, errc::none);
    return res.topics.at(0).partitions.at(0).offset;
  }

  std::string state(const std::string& group = "g") { return coord_->describe_group(group).state; }

  // Forms a generation of n dynamic members (join + sync, each assigned
  // "a-<member id>"); returns member ids in join order and the generation.
  std::pair<std::vector<std::string>, int32_t> form_group(int n) {
    std::vector<awaited<join_response>> joins;
    for (int i = 0; i < n; ++i) joins.push_back(join_new());
    advance(2 * kDelay);
    std::vector<std::string> ids;
    std::vector<sync_assignment> assignments;
    for (auto& j : joins) {
      EXPECT_TRUE(j.ready());
      ids.push_back(j.get().member_id);
      assignments.push_back({j.get().member_id, "a-" + j.get().member_id});
    }
    int32_t gen = joins[0].get().generation_id;
    std::vector<awaited<sync_response>> syncs;
    for (size_t i = 1; i < ids.size(); ++i) syncs.push_back(sync(ids[i], gen));
    auto leader = sync(ids[0], gen, assignments);
    EXPECT_TRUE(leader.ready());
    for (auto& s : syncs) EXPECT_TRUE(s.ready());
    return {ids, gen};
  }

  std::shared_ptr<manual_clock> clock_ = std::make_shared<manual_clock>();
  std::shared_ptr<memory_offset_store> store_ = std::make_shared<memory_offset_store>();
  std::unique_ptr<group_coordinator> coord_;
};

TEST_F(GroupTest, ThreeMembersFormOneGeneration) {
  auto a = join_new();
  auto b = join_new();
  auto c = join_new();
  EXPECT_EQ(state(), "PreparingRebalance");
  advance(kDelay - 1);
  EXPECT_FALSE(a.ready()) << "the initial rebalance delay holds the first generation back";
  advance(1);
  EXPECT_FALSE(a.ready()) << "members joined during the delay: one more delay";
  advance(kDelay);
  ASSERT_TRUE(a.ready() && b.ready() && c.ready());
  auto ra = a.get(), rb = b.get(), rc = c.get();
  for (const auto* r : {&ra, &rb, &rc}) {
    EXPECT_EQ(r->error, errc::none);
    EXPECT_EQ(r->generation_id, 1);
    EXPECT_EQ(r->protocol_name, "range");
    EXPECT_EQ(r->protocol_type, "consumer");
    EXPECT_EQ(r->leader_id, ra.member_id) << "the first member to join leads";
    EXPECT_TRUE(r->member_id.starts_with("client-"));
  }
  ASSERT_EQ(ra.members.size(), 3u);
  EXPECT_EQ(ra.members[0].member_id, ra.member_id);
  EXPECT_EQ(ra.members[1].member_id, rb.member_id);
  EXPECT_EQ(ra.members[2].member_id, rc.member_id);
  EXPECT_EQ(ra.members[1].metadata, subscription({"t"}));
  EXPECT_TRUE(rb.members.empty());
  EXPECT_TRUE(rc.members.empty());
  EXPECT_EQ(state(), "CompletingRebalance");

  // Followers wait for the leader's assignment.
  auto sb = sync(rb.member_id, 1);
  auto sc = sync(rc.member_id, 1);
  EXPECT_FALSE(sb.ready());
  EXPECT_EQ(heartbeat(rb.member_id, 1), errc::none);
  auto sa = sync(ra.member_id, 1, {{ra.member_id, "A"}, {rb.member_id, "B"}, {rc.member_id, "C"}});
  ASSERT_TRUE(sa.ready() && sb.ready() && sc.ready());
  EXPECT_EQ(sa.get().assignment, "A");
  EXPECT_EQ(sb.get().assignment, "B");
  EXPECT_EQ(sc.get().assignment, "C");
  EXPECT_EQ(sc.get().protocol_name, "range");
  EXPECT_EQ(state(), "Stable");
  EXPECT_EQ(heartbeat(rc.member_id, 1), errc::none);

  auto d = coord_->describe_group("g");
  EXPECT_EQ(d.protocol_type, "consumer");
  EXPECT_EQ(d.protocol_data, "range");
  ASSERT_EQ(d.members.size(), 3u);
  EXPECT_EQ(d.members[1].assignment, "B");
  EXPECT_EQ(d.members[1].metadata, subscription({"t"}));
  EXPECT_EQ(d.members[1].client_host, "/127.0.0.1");
}

TEST_F(GroupTest, LeaveTriggersRebalance) {
  auto [ids, gen] = form_group(3);
  auto res = coord_->leave(leave_request{"g", {{ids[2], {}, "bye"}}});
  EXPECT_EQ(res.error, errc::none);
  ASSERT_EQ(res.members.size(), 1u);
  EXPECT_EQ(res.members[0].error, errc::none);
  EXPECT_EQ(state(), "PreparingRebalance");
  EXPECT_EQ(heartbeat(ids[0], gen), errc::rebalance_in_progress);
  EXPECT_EQ(heartbeat(ids[2], gen), errc::unknown_member_id);

  auto a = join(join_req(ids[0]));
  EXPECT_FALSE(a.ready());
  auto b = join(join_req(ids[1]));
  ASSERT_TRUE(a.ready() && b.ready()) << "all known members rejoined: no delay after the first generation";
  EXPECT_EQ(a.get().generation_id, gen + 1);
  EXPECT_EQ(a.get().members.size(), 2u);
  EXPECT_EQ(b.get().leader_id, ids[0]);
  auto sb = sync(ids[1], gen + 1);
  auto sa = sync(ids[0], gen + 1, {{ids[0], "x"}, {ids[1], "y"}});
  EXPECT_EQ(sb.get().assignment, "y");
  EXPECT_EQ(state(), "Stable");
  EXPECT_EQ(heartbeat(ids[1], gen), errc::illegal_generation);
}

TEST_F(GroupTest, LeaderLeavesAndNextMemberLeads) {
  auto [ids, gen] = form_group(2);
  coord_->leave(leave_request{"g", {{ids[0], {}, ""}}});
  auto b = join(join_req(ids[1]));
  ASSERT_TRUE(b.ready());
  EXPECT_EQ(b.get().leader_id, ids[1]);
  EXPECT_EQ(b.get().members.size(), 1u);
}

TEST_F(GroupTest, SilentMemberExpiresAfterSessionTimeout) {
  auto [ids, gen] = form_group(3);
  // a and b heartbeat every 3 s; c is silent.
  for (int t = 0; t < 3; ++t) {
    advance(3'000);
    EXPECT_EQ(heartbeat(ids[0], gen), errc::none);
    EXPECT_EQ(heartbeat(ids[1], gen), errc::none);
  }
  EXPECT_EQ(state(), "Stable");
  advance(1'000);  // 10 s since c's last sign of life
  EXPECT_EQ(state(), "PreparingRebalance");
  EXPECT_EQ(heartbeat(ids[2], gen), errc::unknown_member_id);
  EXPECT_EQ(heartbeat(ids[0], gen), errc::rebalance_in_progress);
  auto a = join(join_req(ids[0]));
  auto b = join(join_req(ids[1]));
  ASSERT_TRUE(a.ready() && b.ready());
  EXPECT_EQ(a.get().generation_id, gen + 1);
  EXPECT_EQ(a.get().members.size(), 2u);
}

TEST_F(GroupTest, MemberThatDoesNotRejoinIsDroppedAtRebalanceTimeout) {
  auto [ids, gen] = form_group(3);
  coord_->leave(leave_request{"g", {{ids[2], {}, ""}}});
  auto a = join(join_req(ids[0]));
  // b keeps heartbeating (session fine) but never rejoins.
  for (int t = 0; t < 6; ++t) {
    advance(3'000);
    EXPECT_EQ(heartbeat(ids[1], gen), errc::rebalance_in_progress);
  }
  EXPECT_FALSE(a.ready());
  advance(kRebalance - 18'000);
  ASSERT_TRUE(a.ready());
  EXPECT_EQ(a.get().generation_id, gen + 1);
  EXPECT_EQ(a.get().members.size(), 1u);
  EXPECT_EQ(heartbeat(ids[1], gen), errc::unknown_member_id);
}

TEST_F(GroupTest, MemberThatDoesNotSyncIsDroppedAtRebalanceTimeout) {
  auto a = join_new();
  auto b = join_new();
  advance(2 * kDelay);
  auto ra = a.get(), rb = b.get();
  // b heartbeats but never syncs; the leader syncs.
  auto sa = sync(ra.member_id, 1, {{ra.member_id, "A"}, {rb.member_id, "B"}});
  ASSERT_TRUE(sa.ready());
  EXPECT_EQ(state(), "Stable");
  for (int t = 0; t < 6; ++t) {
    advance(3'000);
    heartbeat(ra.member_id, 1);
    heartbeat(rb.member_id, 1);
  }
  advance(2'000);
  EXPECT_EQ(state(), "PreparingRebalance");
  EXPECT_EQ(heartbeat(rb.member_id, 1), errc::unknown_member_id);
}

TEST_F(GroupTest, MemberIdRequired) {
  auto first = join_now(join_req(""));
  EXPECT_EQ(first.error, errc::member_id_required);
  EXPECT_TRUE(first.member_id.starts_with("client-"));
  EXPECT_EQ(first.generation_id, -1);
  // The pending member is forgotten after one session timeout.
  advance(kSession);
  auto late = join_now(join_req(first.member_id));
  EXPECT_EQ(late.error, errc::unknown_member_id);

  // Rejoining in time is accepted.
  auto second = join_now(join_req(""));
  auto j = join(join_req(second.member_id));
  advance(2 * kDelay);
  ASSERT_TRUE(j.ready());
  EXPECT_EQ(j.get().error, errc::none);
  EXPECT_EQ(j.get().member_id, second.member_id);
}

TEST_F(GroupTest, OldJoinVersionsGetMemberIdAtOnce) {
  auto r = join_req("");
  r.require_known_member_id = false;  // JoinGroup v0-3
  r.rebalance_timeout_ms = -1;        // v0
  auto j = join(r);
  EXPECT_FALSE(j.ready());
  advance(2 * kDelay);
  ASSERT_TRUE(j.ready());
  EXPECT_EQ(j.get().error, errc::none);
  EXPECT_FALSE(j.get().member_id.empty());
  EXPECT_EQ(j.get().leader_id, j.get().member_id);
}

TEST_F(GroupTest, PendingMemberHoldsUpRebalance) {
  auto [ids, gen] = form_group(1);
  auto newcomer = join_now(join_req(""));
  ASSERT_EQ(newcomer.error, errc::member_id_required);
  auto n = join(join_req(newcomer.member_id));
  EXPECT_EQ(state(), "PreparingRebalance");
  auto a = join(join_req(ids[0]));
  ASSERT_TRUE(a.ready() && n.ready());
  EXPECT_EQ(a.get().members.size(), 2u);
}

TEST_F(GroupTest, StaticMemberRejoinsWithoutRebalance) {
  auto a = join_new({}, "inst-a");
  auto b = join_new({}, "inst-b");
  advance(2 * kDelay);
  auto ra = a.get(), rb = b.get();
  EXPECT_TRUE(ra.member_id.starts_with("inst-a-")) << ra.member_id;
  auto sb = sync(rb.member_id, 1, {}, "inst-b");
  sync(ra.member_id, 1, {{ra.member_id, "A"}, {rb.member_id, "B"}}, "inst-a");
  ASSERT_TRUE(sb.ready());
  EXPECT_EQ(state(), "Stable");

  // b restarts: a new JoinGroup without member id, same instance id.
  auto again = join_now(join_req("", {}, "inst-b"));
  EXPECT_EQ(again.error, errc::none);
  EXPECT_NE(again.member_id, rb.member_id);
  EXPECT_EQ(again.generation_id, 1) << "no new generation";
  EXPECT_TRUE(again.members.empty());
  EXPECT_EQ(state(), "Stable");
  EXPECT_EQ(heartbeat(rb.member_id, 1, "inst-b"), errc::fenced_instance_id);
  EXPECT_EQ(heartbeat(ra.member_id, 1, "inst-a"), errc::none) << "the others see no rebalance";
  auto s = sync(again.member_id, 1, {}, "inst-b");
  ASSERT_TRUE(s.ready());
  EXPECT_EQ(s.get().assignment, "B") << "it takes over its assignment";

  // The leader restarts: it is answered with the old leader id so that it
  // does not assign (before JoinGroup v9).
  auto leader = join_now(join_req("", {}, "inst-a"));
  EXPECT_EQ(leader.error, errc::none);
  EXPECT_EQ(leader.leader_id, ra.member_id);
  EXPECT_NE(leader.member_id, ra.member_id);
  EXPECT_EQ(state(), "Stable");
  auto r9 = join_req("", {}, "inst-a");
  r9.supports_skip_assignment = true;
  auto leader9 = join_now(r9);
  EXPECT_EQ(leader9.leader_id, leader9.member_id);
  EXPECT_TRUE(leader9.skip_assignment);
  EXPECT_EQ(leader9.members.size(), 2u);

  // Static members do not leave; an admin removes one by instance id.
  auto res = coord_->leave(leave_request{"g", {{"", "inst-b", ""}}});
  EXPECT_EQ(res.members.at(0).error, errc::none);
  EXPECT_EQ(state(), "PreparingRebalance");
  res = coord_->leave(leave_request{"g", {{"", "inst-zzz", ""}}});
  EXPECT_EQ(res.members.at(0).error, errc::unknown_member_id);
}

TEST_F(GroupTest, StaticMemberWithOtherProtocolsRebalances) {
  auto a = join_new({}, "inst-a");
  advance(2 * kDelay);
  sync(a.get().member_id, 1, {{a.get().member_id, "A"}}, "inst-a");
  EXPECT_EQ(state(), "Stable");
  auto again = join(join_req("", {{"roundrobin", ""}, {"range", ""}}, "inst-a"));
  ASSERT_TRUE(again.ready()) << "a rebalance, complete at once: the only member rejoined";
  EXPECT_EQ(again.get().generation_id, 2);
  EXPECT_EQ(again.get().protocol_name, "roundrobin");
  EXPECT_EQ(again.get().leader_id, again.get().member_id);
  EXPECT_EQ(state(), "CompletingRebalance");
}

TEST_F(GroupTest, StaticMemberParkedJoinIsFenced) {
  auto [ids, gen] = form_group(1);
  auto s1 = join_new({}, "inst-s");  // triggers a rebalance; parked
  EXPECT_FALSE(s1.ready());
  auto s2 = join(join_req("", {}, "inst-s"));  // the same instance again, new member id
  ASSERT_TRUE(s1.ready());
  EXPECT_EQ(s1.get().error, errc::fenced_instance_id);
  auto a = join(join_req(ids[0]));
  ASSERT_TRUE(a.ready() && s2.ready());
  EXPECT_EQ(a.get().members.size(), 2u);
}

TEST_F(GroupTest, ProtocolSelection) {
  auto a = join_new({{"range", "ma"}, {"roundrobin", "ma2"}});
  auto b = join_new({{"roundrobin", "mb"}, {"range", "mb2"}});
  auto c = join_new({{"sticky", "mc"}, {"roundrobin", "mc2"}, {"range", "mc3"}});
  // Nothing in common with the others.
  auto d = join_now(join_req("", {{"cooperative-sticky", ""}}));
  EXPECT_EQ(d.error, errc::inconsistent_group_protocol);
  auto other_type = join_req("", {{"range", ""}});
  other_type.protocol_type = "connect";
  EXPECT_EQ(join_now(other_type).error, errc::inconsistent_group_protocol);
  advance(2 * kDelay);
  // range: 1 vote, roundrobin: 2 (c's first choice, sticky, is not common).
  EXPECT_EQ(a.get().protocol_name, "roundrobin");
  ASSERT_EQ(a.get().members.size(), 3u);
  EXPECT_EQ(a.get().members[0].metadata, "ma2");
  EXPECT_EQ(a.get().members[2].metadata, "mc2");
}

TEST_F(GroupTest, OffsetCommitChecksGenerationAndMember) {
  // Unknown group: standalone commits create it; a generation does not.
  EXPECT_EQ(commit("", -1, "t", 0, 10, "solo"), errc::none);
  EXPECT_EQ(fetch("t", 0, "solo"), 10);
  EXPECT_EQ(commit("m", 3, "t", 0, 10, "nogroup"), errc::illegal_generation);

  auto [ids, gen] = form_group(2);
  EXPECT_EQ(commit(ids[0], gen, "t", 0, 100), errc::none);
  EXPECT_EQ(fetch("t", 0), 100);
  EXPECT_EQ(commit("", -1, "t", 0, 1), errc::unknown_member_id) << "standalone commits only to empty groups";
  EXPECT_EQ(commit("stranger", gen, "t", 0, 1), errc::unknown_member_id);
  EXPECT_EQ(commit(ids[0], gen + 7, "t", 0, 1), errc::illegal_generation);

  // Rebalance to the next generation: the old generation is stale.
  coord_->leave(leave_request{"g", {{ids[1], {}, ""}}});
  EXPECT_EQ(commit(ids[0], gen, "t", 0, 101), errc::none)
      << "commits are allowed while preparing a rebalance";
  auto a = join(join_req(ids[0]));
  ASSERT_TRUE(a.ready());
  EXPECT_EQ(commit(ids[0], gen + 1, "t", 0, 102), errc::rebalance_in_progress) << "awaiting sync";
  sync(ids[0], gen + 1, {{ids[0], ""}});
  EXPECT_EQ(commit(ids[0], gen, "t", 0, 103), errc::illegal_generation);
  EXPECT_EQ(commit(ids[0], gen + 1, "t", 0, 104), errc::none);
  EXPECT_EQ(fetch("t", 0), 104);

  // Metadata bound.
  offset_commit_request big;
  big.group_id = "solo";
  big.topics.push_back({"t", {{1, 5, -1, std::string(4097, 'x')}, {2, 6, -1, "ok"}}});
  auto res = coord_->commit_offsets(big);
  EXPECT_EQ(res.topics[0].partitions[0].error, errc::offset_metadata_too_large);
  EXPECT_EQ(res.topics[0].partitions[1].error, errc::none);
}

TEST_F(GroupTest, UnknownPartitionsAreRejected) {
  coordinator_options o = options();
  o.partition_exists = [](const std::string& topic, int32_t p) { return topic == "t" && p < 2; };
  auto c = group_coordinator::open(o, store_);
  ASSERT_TRUE(c);
  offset_commit_request r;
  r.group_id = "solo";
  r.topics.push_back({"t", {{0, 1, -1, ""}, {2, 1, -1, ""}}});
  r.topics.push_back({"nope", {{0, 1, -1, ""}}});
  auto res = c.value()->commit_offsets(r);
  EXPECT_EQ(res.topics[0].partitions[0].error, errc::none);
  EXPECT_EQ(res.topics[0].partitions[1].error, errc::unknown_topic_or_partition);
  EXPECT_EQ(res.topics[1].partitions[0].error, errc::unknown_topic_or_partition);
}

TEST_F(GroupTest, UnchangedOffsetsAreNotRewritten) {
  EXPECT_EQ(commit("", -1, "t", 0, 10), errc::none);
  uint64_t writes = store_->writes();
  EXPECT_EQ(commit("", -1, "t", 0, 10), errc::none);
  EXPECT_EQ(store_->writes(), writes);
  EXPECT_EQ(commit("", -1, "t", 0, 11), errc::none);
  EXPECT_EQ(store_->writes(), writes + 1);
}

TEST_F(GroupTest, StoreFailureFailsOnlyUnwrittenPartitions) {
  store_->fail_after(1);
  offset_commit_request r;
  r.group_id = "solo";
  r.topics.push_back({"t", {{0, 1, -1, ""}, {1, 2, -1, ""}, {2, 3, -1, ""}}});
  auto res = coord_->commit_offsets(r);
  EXPECT_EQ(res.topics[0].partitions[0].error, errc::none);
  EXPECT_EQ(res.topics[0].partitions[1].error, errc::coordinator_not_available);
  EXPECT_EQ(res.topics[0].partitions[2].error, errc::coordinator_not_available);
  EXPECT_EQ(fetch("t", 0, "solo"), 1);
  EXPECT_EQ(fetch("t", 1, "solo"), -1);
  open();  // what is in memory matches what was stored
  EXPECT_EQ(fetch("t", 0, "solo"), 1);
  EXPECT_EQ(fetch("t", 1, "solo"), -1);
}

TEST_F(GroupTest, OffsetFetchAll) {
  offset_commit_request r;
  r.group_id = "g";
  r.topics.push_back({"b", {{1, 11, 3, "x"}, {0, 10, 3, ""}}});
  r.topics.push_back({"a", {{0, 5, -1, ""}}});
  coord_->commit_offsets(r);
  offset_fetch_request f;
  f.group_id = "g";
  f.require_stable = true;
  auto res = coord_->fetch_offsets(f);
  ASSERT_EQ(res.topics.size(), 2u);
  EXPECT_EQ(res.topics[0].name, "a");
  ASSERT_EQ(res.topics[1].partitions.size(), 2u);
  EXPECT_EQ(res.topics[1].partitions[1].offset, 11);
  EXPECT_EQ(res.topics[1].partitions[1].metadata, "x");
  EXPECT_EQ(res.topics[1].partitions[1].leader_epoch, 3);
  f.group_id = "unknown";
  EXPECT_TRUE(coord_->fetch_offsets(f).topics.empty());
  f.topics = std::vector<fetch_topic>{{"a", {0, 1}}};
  auto one = coord_->fetch_offsets(f);
  EXPECT_EQ(one.topics[0].partitions[1].offset, -1);
  EXPECT_EQ(one.topics[0].partitions[1].error, errc::none);
}

TEST_F(GroupTest, OffsetsSurviveRestart) {
  auto [ids, gen] = form_group(3);
  for (int p = 0; p < 3; ++p) EXPECT_EQ(commit(ids[p], gen, "t", p, 100 + p), errc::none);
  open();  // a new coordinator over the same store
  EXPECT_EQ(fetch("t", 2), 102);
  EXPECT_EQ(state(), "Empty");
  EXPECT_EQ(heartbeat(ids[0], gen), errc::unknown_member_id) << "members rejoin after a restart";
  auto j = join_new();
  advance(2 * kDelay);
  EXPECT_EQ(j.get().generation_id, 1);
}

TEST_F(GroupTest, DescribeListDelete) {
  EXPECT_EQ(state("nope"), "Dead");
  EXPECT_EQ(coord_->describe_group("nope").error, errc::none);
  auto [ids, gen] = form_group(2);
  commit(ids[0], gen, "t", 0, 5);
  commit("", -1, "t", 0, 7, "solo");

  auto all = coord_->list_groups({});
  ASSERT_EQ(all.groups.size(), 2u);
  EXPECT_EQ(all.groups[0].group_id, "g");
  EXPECT_EQ(all.groups[0].state, "Stable");
  EXPECT_EQ(all.groups[0].protocol_type, "consumer");
  EXPECT_EQ(all.groups[1].state, "Empty");
  EXPECT_EQ(all.groups[1].protocol_type, "");
  auto stable = coord_->list_groups({"stable"});
  ASSERT_EQ(stable.groups.size(), 1u);
  EXPECT_EQ(stable.groups[0].group_id, "g");
  EXPECT_TRUE(coord_->list_groups({"Dead"}).groups.empty());

  auto del = coord_->delete_groups({"g", "solo", "nope"});
  EXPECT_EQ(del[0].error, errc::non_empty_group);
  EXPECT_EQ(del[1].error, errc::none);
  EXPECT_EQ(del[2].error, errc::group_id_not_found);
  EXPECT_EQ(fetch("t", 0, "solo"), -1);

  coord_->leave(leave_request{"g", {{ids[0], {}, ""}, {ids[1], {}, ""}}});
  EXPECT_EQ(state(), "Empty");
  EXPECT_EQ(coord_->delete_groups({"g"})[0].error, errc::none);
  EXPECT_EQ(state(), "Dead");
  EXPECT_EQ(store_->size(), 0u) << "offsets went with the groups";
  open();
  EXPECT_TRUE(coord_->list_groups({}).groups.empty());
}

TEST_F(GroupTest, OffsetDelete) {
  auto [ids, gen] = form_group(1);  // subscribed to "t"
  offset_commit_request r;
  r.group_id = "g";
  r.member_id = ids[0];
  r.generation_id = gen;
  r.topics.push_back({"t", {{0, 1, -1, ""}}});
  r.topics.push_back({"old", {{0, 2, -1, ""}}});
  coord_->commit_offsets(r);

  offset_delete_request d;
  d.group_id = "g";
  d.topics = {{"t", {0}}, {"old", {0, 9}}};
  auto res = coord_->delete_offsets(d);
  EXPECT_EQ(res.error, errc::none);
  EXPECT_EQ(res.topics[0].partitions[0].error, errc::group_subscribed_to_topic);
  EXPECT_EQ(res.topics[1].partitions[0].error, errc::none);
  EXPECT_EQ(res.topics[1].partitions[1].error, errc::none);
  EXPECT_EQ(fetch("t", 0), 1);
  EXPECT_EQ(fetch("old", 0), -1);

  d.group_id = "missing";
  EXPECT_EQ(coord_->delete_offsets(d).error, errc::group_id_not_found);

  // Empty: everything goes, and with the last offset the group.
  coord_->leave(leave_request{"g", {{ids[0], {}, ""}}});
  d.group_id = "g";
  d.topics = {{"t", {0}}};
  res = coord_->delete_offsets(d);
  EXPECT_EQ(res.topics[0].partitions[0].error, errc::none);
  EXPECT_EQ(state(), "Dead");
}

TEST_F(GroupTest, DeletedTopicLosesItsOffsets) {
  auto [ids, gen] = form_group(1);
  offset_commit_request r;
  r.group_id = "g";
  r.member_id = ids[0];
  r.generation_id = gen;
  r.topics.push_back({"t", {{0, 1, -1, ""}}});
  r.topics.push_back({"gone", {{0, 5, -1, ""}, {1, 6, -1, ""}}});
  coord_->commit_offsets(r);
  EXPECT_EQ(coord_->delete_topic_offsets("gone"), 2u);
  EXPECT_EQ(fetch("gone", 0), -1);
  EXPECT_EQ(fetch("gone", 1), -1);
  EXPECT_EQ(fetch("t", 0), 1) << "other topics keep their offsets";
  EXPECT_EQ(coord_->delete_topic_offsets("gone"), 0u);
  open();  // a new coordinator over the same store
  EXPECT_EQ(fetch("gone", 0), -1) << "the deletion is durable";
  EXPECT_EQ(fetch("t", 0), 1);
}

TEST_F(GroupTest, Validation) {
  auto r = join_req("");
  r.session_timeout_ms = 5'999;
  EXPECT_EQ(join_now(r).error, errc::invalid_session_timeout);
  r.session_timeout_ms = 1'800'001;
  EXPECT_EQ(join_now(r).error, errc::invalid_session_timeout);
  r = join_req("");
  r.group_id = "";
  EXPECT_EQ(join_now(r).error, errc::invalid_group_id);
  r = join_req("");
  r.protocols.assign(33, {"p", ""});
  EXPECT_EQ(join_now(r).error, errc::invalid_request);
  EXPECT_EQ(join_now(join_req("someone")).error, errc::unknown_member_id) << "unknown group, known member id";
  EXPECT_EQ(heartbeat("x", 1), errc::unknown_member_id);
  auto s = sync("x", 1);
  ASSERT_TRUE(s.ready());
  EXPECT_EQ(s.get().error, errc::unknown_member_id);
  auto l = coord_->leave(leave_request{"g", {{"x", {}, ""}}});
  EXPECT_EQ(l.members.at(0).error, errc::unknown_member_id);
}

TEST_F(GroupTest, SyncErrors) {
  auto a = join_new();
  auto b = join_new();
  advance(2 * kDelay);
  auto ra = a.get(), rb = b.get();
  EXPECT_EQ(sync(rb.member_id, 7).get().error, errc::illegal_generation);
  sync_request wrong;
  wrong.group_id = "g";
  wrong.member_id = rb.member_id;
  wrong.generation_id = 1;
  wrong.protocol_name = "roundrobin";
  awaited<sync_response> w;
  coord_->sync(wrong, w.callback());
  EXPECT_EQ(w.get().error, errc::inconsistent_group_protocol);
  // A new member arrives while b waits for its assignment: b must rejoin.
  auto sb = sync(rb.member_id, 1);
  auto c = join_new();
  ASSERT_TRUE(sb.ready());
  EXPECT_EQ(sb.get().error, errc::rebalance_in_progress);
  EXPECT_EQ(sync(ra.member_id, 1).get().error, errc::rebalance_in_progress);
}

TEST_F(GroupTest, MaxGroupSize) {
  coordinator_options o = options();
  o.max_group_size = 2;
  auto c = group_coordinator::open(o, store_);
  ASSERT_TRUE(c);
  coord_ = std::move(c).value();
  auto a = join_new();
  auto b = join_new();
  EXPECT_EQ(join_now(join_req("")).error, errc::group_max_size_reached);
  advance(2 * kDelay);
  EXPECT_EQ(a.get().members.size(), 2u);
  EXPECT_EQ(join_now(join_req("")).error, errc::group_max_size_reached) << "also once formed";
  EXPECT_EQ(a.get().generation_id, 1);
}

TEST_F(GroupTest, InitialDelayExtendsForNewcomers) {
  auto a = join_new();
  advance(kDelay - 10);
  auto b = join_new();
  advance(10);
  EXPECT_FALSE(a.ready()) << "a member joined during the delay: wait another delay";
  advance(kDelay - 1);
  EXPECT_FALSE(a.ready());
  advance(1);
  ASSERT_TRUE(a.ready());
  EXPECT_EQ(a.get().members.size(), 2u);
}

TEST_F(GroupTest, NewMemberJoinTimeout) {
  auto [ids, gen] = form_group(2);
  coord_->leave(leave_request{"g", {{ids[1], {}, ""}}});
  auto n = join_new();  // parked until a rejoins, which it never does ...
  for (int t = 0; t < 6; ++t) {
    advance(3'000);
    heartbeat(ids[0], gen);
  }
  // ... so the rebalance timeout completes it without a.
  advance(2'000);
  ASSERT_TRUE(n.ready());
  EXPECT_EQ(n.get().error, errc::none);
  EXPECT_EQ(n.get().members.size(), 1u);
}

TEST_F(GroupTest, StopAnswersParkedCalls) {
  auto a = join_new();
  coord_->stop();
  ASSERT_TRUE(a.ready());
  EXPECT_EQ(a.get().error, errc::coordinator_not_available);
  EXPECT_EQ(join_now(join_req("")).error, errc::coordinator_not_available);
  EXPECT_EQ(heartbeat("x", 1), errc::coordinator_not_available);
}

TEST_F(GroupTest, EmptyGroupsWithoutOffsetsAreSwept) {
  auto [ids, gen] = form_group(1);
  coord_->leave(leave_request{"g", {{ids[0], {}, ""}}});
  EXPECT_EQ(state(), "Empty");
  advance(60'000);
  advance(60'000);
  EXPECT_EQ(state(), "Dead");
}

TEST_F(GroupTest, OffsetsOfEmptyGroupsExpire) {
  coordinator_options o = options();
  o.offsets_retention = std::chrono::hours(1);
  auto c = group_coordinator::open(o, store_);
  ASSERT_TRUE(c);
  coord_ = std::move(c).value();
  EXPECT_EQ(commit("", -1, "t", 0, 1), errc::none);
  advance(30 * 60'000);
  EXPECT_EQ(fetch("t", 0), 1);
  advance(31 * 60'000);
  EXPECT_EQ(fetch("t", 0), -1);
  EXPECT_EQ(store_->size(), 0u);
}

TEST(ConsumerProtocol, SubscriptionTopics) {
  auto t = internal::subscription_topics(subscription({"a", "bb"}));
  ASSERT_TRUE(t);
  EXPECT_EQ(*t, (std::vector<std::string>{"a", "bb"}));
  EXPECT_FALSE(internal::subscription_topics("\x00\x00\x7f\xff\xff\xff"));
  EXPECT_FALSE(
      internal::subscription_topics(std::string("\x00\x00\x00\x00\x00\x01\x00\x05"
                                                "ab",
                                                10)));
  EXPECT_FALSE(internal::subscription_topics(""));
}

// Real time, real threads: members join, sync, heartbeat and leave at once.
TEST(GroupConcurrency, ConcurrentMembersDoNotDeadlock) {
  coordinator_options o;
  o.initial_rebalance_delay = 20ms;
  o.min_session_timeout = 100ms;
  auto store = std::make_shared<memory_offset_store>();
  auto c = group_coordinator::open(o, store);
  ASSERT_TRUE(c);
  auto& coord = *c.value();
  constexpr int kThreads = 8;
  std::atomic<int> stable_syncs{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      std::string group = t % 2 ? "odd" : "even";
      for (int round = 0; round < 5; ++round) {
        join_request jr;
        jr.group_id = group;
        jr.protocol_type = "consumer";
        jr.protocols = {{"range", subscription({"t"})}};
        jr.session_timeout_ms = 2'000;
        jr.rebalance_timeout_ms = 2'000;
        jr.require_known_member_id = true;
        jr.client_id = "c" + std::to_string(t);
        std::string member;
        int32_t gen = -1;
        for (int attempt = 0; attempt < 50 && gen < 0; ++attempt) {
          jr.member_id = member;
          awaited<join_response> j;
          coord.join(jr, j.callback());
          auto r = j.wait(5s);
          ASSERT_TRUE(r) << "join never answered";
          if (r->error == errc::member_id_required) {
            member = r->member_id;
            continue;
          }
          if (r->error != errc::none) continue;
          member = r->member_id;
          std::vector<sync_assignment> as;
          for (const auto& m : r->members) as.push_back({m.member_id, "x"});
          awaited<sync_response> s;
          coord.sync(sync_request{group, r->generation_id, member, {}, {}, {}, as}, s.callback());
          auto sr = s.wait(5s);
          ASSERT_TRUE(sr) << "sync never answered";
          if (sr->error == errc::none) gen = r->generation_id;
        }
        if (gen < 0) continue;
        ++stable_syncs;
        for (int hb = 0; hb < 3; ++hb) {
          coord.heartbeat(heartbeat_request{group, gen, member, {}});
          offset_commit_request cr;
          cr.group_id = group;
          cr.member_id = member;
          cr.generation_id = gen;
          cr.topics.push_back({"t", {{t, round * 10 + hb, -1, ""}}});
          coord.commit_offsets(cr);
          std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 5));
        }
        coord.describe_group(group);
        coord.list_groups({});
        coord.leave(leave_request{group, {{member, {}, ""}}});
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_GT(stable_syncs.load(), 0);
  coord.stop();
}

// Offsets in the SQLite metadata store survive the coordinator and the store.
TEST(GroupPersistence, OffsetsSurviveRestartInSqlite) {
  auto dir = std::filesystem::path(::testing::TempDir()) / ("kafka_group_test_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto path = (dir / "meta.db").string();
  coordinator_options o;
  o.background_timer = false;
  {
    auto kv = stream::meta::open_sqlite(path);
    ASSERT_TRUE(kv) << kv.error().message();
    auto c = group_coordinator::open(o, make_meta_offset_store(*kv.value()));
    ASSERT_TRUE(c);
    offset_commit_request r;
    r.group_id = "g/with%odd chars";
    r.topics.push_back({"t", {{0, 42, 7, "m"}, {1, 43, -1, ""}}});
    auto res = c.value()->commit_offsets(r);
    EXPECT_EQ(res.topics[0].partitions[0].error, errc::none);
    r.group_id = "other";
    c.value()->commit_offsets(r);
    EXPECT_EQ(c.value()->delete_groups({"other"})[0].error, errc::none);
  }
  {
    auto kv = stream::meta::open_sqlite(path);
    ASSERT_TRUE(kv);
    auto c = group_coordinator::open(o, make_meta_offset_store(*kv.value()));
    ASSERT_TRUE(c);
    offset_fetch_request f;
    f.group_id = "g/with%odd chars";
    auto res = c.value()->fetch_offsets(f);
    ASSERT_EQ(res.topics.size(), 1u);
    ASSERT_EQ(res.topics[0].partitions.size(), 2u);
    EXPECT_EQ(res.topics[0].partitions[0].offset, 42);
    EXPECT_EQ(res.topics[0].partitions[0].leader_epoch, 7);
    EXPECT_EQ(res.topics[0].partitions[0].metadata, "m");
    EXPECT_EQ(res.topics[0].partitions[1].offset, 43);
    auto groups = c.value()->list_groups({});
    ASSERT_EQ(groups.groups.size(), 1u);
    EXPECT_EQ(groups.groups[0].state, "Empty");
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sluice::kafka::group
