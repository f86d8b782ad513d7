// Group and admin handlers (handlers_group.cc, handlers_admin.cc) over a real
// socket; the fixture is broker_fixture.h's BrokerTest.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <deque>
#include <filesystem>
#include <map>
#include <thread>

#include "kafka/broker/broker.h"
#include "kafka/broker/tests/broker_fixture.h"
#include "kafka/protocol/messages/all.h"
#include "kafka/protocol/messages/api_versions.h"
#include "kafka/protocol/messages/create_topics.h"
#include "kafka/protocol/messages/fetch.h"
#include "kafka/protocol/messages/init_producer_id.h"
#include "kafka/protocol/messages/list_offsets.h"
#include "kafka/protocol/messages/metadata.h"
#include "kafka/protocol/messages/produce.h"
#include "kafka/protocol/record_batch.h"
#include "net/stream.h"

namespace sluice::kafka {
namespace {

using testing::BrokerTest;

namespace fs = std::filesystem;
namespace proto = protocol;
using namespace std::chrono_literals;

class HandlersTest : public BrokerTest {
 protected:
  template <class Response, class Request>
  Response rpc(int16_t key, int16_t version, const Request& req) {
    auto body = call(key, version, req);
    EXPECT_TRUE(body) << "key " << key << " v" << version << ": connection closed";
    held_.push_back(body.value_or(""));
    return decode<Response>(held_.back(), version);
  }

  proto::create_topics_response create(const std::string& name, int32_t partitions, int16_t version = 5,
                                       int16_t rf = -1, std::map<std::string, std::string> cfg = {},
                                       bool validate_only = false) {
    proto::create_topics_request req;
    proto::create_topics_request::creatable_topic t;
    t.name = name;
    t.num_partitions = partitions;
    t.replication_factor = rf;
    for (auto& [k, v] : cfg) {
      proto::create_topics_request::topic_config tc;
      tc.name = k;
      tc.value = v;
      t.configs.push_back(tc);
    }
    req.topics.push_back(t);
    req.validate_only = validate_only;
    return rpc<proto::create_topics_response>(19, version, req);
  }

  std::deque<std::string> held_;
};

TEST_F(HandlersTest, FindCoordinatorAllVersions) {
  proto::find_coordinator_request req;
  req.key = "g";
  auto v0 = rpc<proto::find_coordinator_response>(10, 0, req);
  EXPECT_EQ(v0.error_code, 0);
  EXPECT_EQ(v0.node_id, 1);
  EXPECT_EQ(v0.host, "localhost");
  EXPECT_EQ(v0.port, 9092);
  auto v3 = rpc<proto::find_coordinator_response>(10, 3, req);
  EXPECT_EQ(v3.error_code, 0);
  EXPECT_FALSE(v3.error_message.has_value());
  req.key_type = 1;
  auto txn = rpc<proto::find_coordinator_response>(10, 2, req);
  EXPECT_EQ(txn.error_code, 0) << "this node; InitProducerId then refuses transactional ids";
  EXPECT_EQ(txn.node_id, 1);
  proto::find_coordinator_request r4;
  r4.coordinator_keys = {"a", "b"};
  auto v4 = rpc<proto::find_coordinator_response>(10, 4, r4);
  ASSERT_EQ(v4.coordinators.size(), 2u);
  EXPECT_EQ(v4.coordinators[1].key, "b");
  EXPECT_EQ(v4.coordinators[1].node_id, 1);
  EXPECT_EQ(v4.coordinators[1].error_code, 0);
  r4.key_type = 1;
  auto t4 = rpc<proto::find_coordinator_response>(10, 4, r4);
  EXPECT_EQ(t4.coordinators[0].error_code, 0);
  r4.key_type = 7;
  auto bad = rpc<proto::find_coordinator_response>(10, 4, r4);
  EXPECT_EQ(bad.coordinators[0].error_code, 42);
}

TEST_F(HandlersTest, GroupLifecycle) {
  ASSERT_EQ(create("t", 2).topics[0].error_code, 0);
  // KIP-394 (v4+): first a member id.
  proto::join_group_request j;
  j.group_id = "g";
  j.session_timeout_ms = 10000;
  j.rebalance_timeout_ms = 10000;
  j.protocol_type = "consumer";
  j.protocols.push_back({"range", "meta-r", {}});
  auto first = rpc<proto::join_group_response>(11, 5, j);
  EXPECT_EQ(first.error_code, 79);
  ASSERT_FALSE(first.member_id.empty());
  EXPECT_TRUE(first.member_id.starts_with("test-"));
  EXPECT_EQ(first.protocol_name, "");
  j.member_id = first.member_id;
  auto joined = rpc<proto::join_group_response>(11, 5, j);
  EXPECT_EQ(joined.error_code, 0);
  EXPECT_EQ(joined.generation_id, 1);
  EXPECT_EQ(joined.protocol_name, "range");
  EXPECT_EQ(joined.leader, first.member_id);
  ASSERT_EQ(joined.members.size(), 1u);
  EXPECT_EQ(joined.members[0].metadata, "meta-r");

  proto::sync_group_request s;
  s.group_id = "g";
  s.generation_id = 1;
  s.member_id = first.member_id;
  s.assignments.push_back({first.member_id, "assign-1", {}});
  auto synced = rpc<proto::sync_group_response>(14, 3, s);
  EXPECT_EQ(synced.error_code, 0);
  EXPECT_EQ(synced.assignment, "assign-1");
  s.protocol_type = "consumer";
  s.protocol_name = "range";
  s.assignments.clear();
  auto synced5 = rpc<proto::sync_group_response>(14, 5, s);
  EXPECT_EQ(synced5.error_code, 0);
  EXPECT_EQ(synced5.protocol_name, "range");
  EXPECT_EQ(synced5.assignment, "assign-1");

  proto::heartbeat_request h;
  h.group_id = "g";
  h.generation_id = 1;
  h.member_id = first.member_id;
  EXPECT_EQ(rpc<proto::heartbeat_response>(12, 3, h).error_code, 0);
  h.generation_id = 7;
  EXPECT_EQ(rpc<proto::heartbeat_response>(12, 0, h).error_code, 22);

  proto::offset_commit_request oc;
  oc.group_id = "g";
  oc.generation_id = 1;
  oc.member_id = first.member_id;
  proto::offset_commit_request::topic ot;
  ot.name = "t";
  proto::offset_commit_request::partition op;
  op.partition_index = 1;
  op.committed_offset = 42;
  op.committed_leader_epoch = 3;
  op.committed_metadata = std::nullopt;
  ot.partitions.push_back(op);
  op.partition_index = 9;  // no such partition
  ot.partitions.push_back(op);
  oc.topics.push_back(ot);
  auto committed = rpc<proto::offset_commit_response>(8, 7, oc);
  ASSERT_EQ(committed.topics.size(), 1u);
  ASSERT_EQ(committed.topics[0].partitions.size(), 2u);
  EXPECT_EQ(committed.topics[0].partitions[0].error_code, 0);
  EXPECT_EQ(committed.topics[0].partitions[1].error_code, 3);
  // v0: a standalone commit, refused while the group has members.
  EXPECT_EQ(rpc<proto::offset_commit_response>(8, 0, oc).topics[0].partitions[0].error_code, 25);

  proto::offset_fetch_request of;
  of.group_id = "g";
  of.topics = std::nullopt;
  auto all = rpc<proto::offset_fetch_response>(9, 5, of);
  EXPECT_EQ(all.error_code, 0);
  ASSERT_EQ(all.topics.size(), 1u);
  ASSERT_EQ(all.topics[0].partitions.size(), 1u);
  EXPECT_EQ(all.topics[0].partitions[0].committed_offset, 42);
  EXPECT_EQ(all.topics[0].partitions[0].committed_leader_epoch, 3);
  EXPECT_EQ(all.topics[0].partitions[0].metadata, "");
  proto::offset_fetch_request of1;
  of1.group_id = "g";
  of1.topics = std::vector<proto::offset_fetch_request::topic>{{"t", {0, 1}, {}}};
  auto some = rpc<proto::offset_fetch_response>(9, 1, of1);
  ASSERT_EQ(some.topics.size(), 1u);
  ASSERT_EQ(some.topics[0].partitions.size(), 2u);
  EXPECT_EQ(some.topics[0].partitions[0].committed_offset, -1);
  EXPECT_EQ(some.topics[0].partitions[1].committed_offset, 42);
  proto::offset_fetch_request of8;
  proto::offset_fetch_request::group g8;
  g8.group_id = "g";
  g8.topics = std::nullopt;
  of8.groups.push_back(g8);
  g8.group_id = "other";
  g8.topics = std::vector<proto::offset_fetch_request::group_topic>{{"t", {1}, {}}};
  of8.groups.push_back(g8);
  auto multi = rpc<proto::offset_fetch_response>(9, 8, of8);
  ASSERT_EQ(multi.groups.size(), 2u);
  EXPECT_EQ(multi.groups[0].group_id, "g");
  EXPECT_EQ(multi.groups[0].topics[0].partitions[0].committed_offset, 42);
  EXPECT_EQ(multi.groups[1].group_id, "other");
  EXPECT_EQ(multi.groups[1].topics[0].partitions[0].committed_offset, -1);

  proto::describe_groups_request dg;
  dg.groups = {"g", "nope"};
  dg.include_authorized_operations = true;
  auto described = rpc<proto::describe_groups_response>(15, 5, dg);
  ASSERT_EQ(described.groups.size(), 2u);
  EXPECT_EQ(described.groups[0].group_state, "Stable");
  EXPECT_EQ(described.groups[0].protocol_type, "consumer");
  EXPECT_EQ(described.groups[0].protocol_data, "range");
  EXPECT_EQ(described.groups[0].authorized_operations, 328);
  ASSERT_EQ(described.groups[0].members.size(), 1u);
  EXPECT_EQ(described.groups[0].members[0].client_id, "test");
  EXPECT_EQ(described.groups[0].members[0].client_host, "/127.0.0.1");
  EXPECT_EQ(described.groups[0].members[0].member_assignment, "assign-1");
  EXPECT_EQ(described.groups[1].group_state, "Dead");

  proto::list_groups_request lg;
  auto listed = rpc<proto::list_groups_response>(16, 4, lg);
  ASSERT_EQ(listed.groups.size(), 1u);
  EXPECT_EQ(listed.groups[0].group_state, "Stable");
  lg.states_filter = {"empty"};
  EXPECT_TRUE(rpc<proto::list_groups_response>(16, 4, lg).groups.empty());
  EXPECT_EQ(rpc<proto::list_groups_response>(16, 0, proto::list_groups_request{}).groups.size(), 1u);

  proto::delete_groups_request del;
  del.groups_names = {"g"};
  EXPECT_EQ(rpc<proto::delete_groups_response>(42, 1, del).results[0].error_code, 68);

  // LeaveGroup v3 (batch) with an unknown member, then v1 for the real one.
  proto::leave_group_request lv3;
  lv3.group_id = "g";
  lv3.members.push_back({"ghost", std::nullopt, std::nullopt, {}});
  auto left3 = rpc<proto::leave_group_response>(13, 3, lv3);
  EXPECT_EQ(left3.error_code, 0);
  ASSERT_EQ(left3.members.size(), 1u);
  EXPECT_EQ(left3.members[0].member_id, "ghost");
  EXPECT_EQ(left3.members[0].error_code, 25);
  proto::leave_group_request lv1;
  lv1.group_id = "g";
  lv1.member_id = "ghost";
  EXPECT_EQ(rpc<proto::leave_group_response>(13, 1, lv1).error_code, 25);
  lv1.member_id = first.member_id;
  EXPECT_EQ(rpc<proto::leave_group_response>(13, 1, lv1).error_code, 0);

  // Empty now: OffsetDelete, then DeleteGroups.
  proto::offset_delete_request od;
  od.group_id = "g";
  proto::offset_delete_request::topic odt;
  odt.name = "t";
  odt.partitions.push_back({1});
  od.topics.push_back(odt);
  auto deleted = rpc<proto::offset_delete_response>(47, 0, od);
  EXPECT_EQ(deleted.error_code, 0);
  ASSERT_EQ(deleted.topics.size(), 1u);
  EXPECT_EQ(deleted.topics[0].partitions[0].error_code, 0);
  EXPECT_EQ(rpc<proto::offset_fetch_response>(9, 5, of).topics.size(), 0u);
  // v0 standalone commit works on an empty group.
  oc.topics[0].partitions.pop_back();
  EXPECT_EQ(rpc<proto::offset_commit_response>(8, 0, oc).topics[0].partitions[0].error_code, 0);
  EXPECT_EQ(rpc<proto::delete_groups_response>(42, 2, del).results[0].error_code, 0);
  EXPECT_EQ(rpc<proto::delete_groups_response>(42, 0, del).results[0].error_code, 69);
}

TEST_F(HandlersTest, JoinV0AndSessionErrors) {
  proto::join_group_request j;
  j.group_id = "g0";
  j.session_timeout_ms = 10000;
  j.protocol_type = "consumer";
  j.protocols.push_back({"roundrobin", "m", {}});
  auto r = rpc<proto::join_group_response>(11, 0, j);  // v0: no KIP-394
  EXPECT_EQ(r.error_code, 0);
  EXPECT_EQ(r.generation_id, 1);
  EXPECT_EQ(r.protocol_name, "roundrobin");
  j.group_id = "g1";
  j.session_timeout_ms = 10;
  auto bad = rpc<proto::join_group_response>(11, 7, j);
  EXPECT_EQ(bad.error_code, 26);
  EXPECT_FALSE(bad.protocol_name.has_value());  // nullable from v7
  auto bad2 = rpc<proto::join_group_response>(11, 2, j);
  EXPECT_EQ(bad2.error_code, 26);
  EXPECT_EQ(bad2.protocol_name, "");
}

TEST_F(HandlersTest, CreateTopicsErrorsAndResults) {
  auto ok = create("c1", 3, 7, -1, {{"retention.ms", "1000"}});
  ASSERT_EQ(ok.topics.size(), 1u);
  EXPECT_EQ(ok.topics[0].error_code, 0);
  EXPECT_FALSE(ok.topics[0].error_message.has_value());
  EXPECT_EQ(ok.topics[0].num_partitions, 3);
  EXPECT_EQ(ok.topics[0].replication_factor, 1);
  EXPECT_FALSE(ok.topics[0].topic_id.is_zero());
  ASSERT_TRUE(ok.topics[0].configs.has_value());
  bool seen = false;
  for (const auto& cfg : *ok.topics[0].configs) {
    if (cfg.name == "retention.ms") {
      seen = true;
      EXPECT_EQ(cfg.value, "1000");
      EXPECT_EQ(cfg.config_source, 1);
    }
    if (cfg.name == "cleanup.policy") {
      EXPECT_EQ(cfg.config_source, 5);
    }
  }
  EXPECT_TRUE(seen);
  EXPECT_EQ(create("c1", 1).topics[0].error_code, 36);
  EXPECT_EQ(create("bad/name", 1, 1).topics[0].error_code, 17);
  EXPECT_EQ(create("c2", 0, 1).topics[0].error_code, 37);
  EXPECT_EQ(create("c2", 1, 2, 3).topics[0].error_code, 38);
  auto cfg = create("c2", 1, 4, -1, {{"no.such", "1"}});
  EXPECT_EQ(cfg.topics[0].error_code, 40);
  EXPECT_TRUE(cfg.topics[0].error_message.has_value());
  auto v = create("c3", 2, 5, -1, {}, true);
  EXPECT_EQ(v.topics[0].error_code, 0);
  EXPECT_EQ(v.topics[0].num_partitions, 2);
  EXPECT_EQ(create("c3", 2, 0).topics[0].error_code,
            0);  // validate-only created nothing

  // Duplicates and manual assignments.
  proto::create_topics_request req;
  proto::create_topics_request::creatable_topic t;
  t.name = "dup";
  t.num_partitions = 1;
  t.replication_factor = 1;
  req.topics = {t, t};
  t.name = "manual";
  t.num_partitions = -1;
  t.replication_factor = -1;
  t.assignments = {{1, {1}, {}}, {0, {1}, {}}};
  req.topics.push_back(t);
  t.name = "manual-bad";
  t.assignments = {{0, {2}, {}}};
  req.topics.push_back(t);
  auto r = rpc<proto::create_topics_response>(19, 5, req);
  ASSERT_EQ(r.topics.size(), 4u);
  EXPECT_EQ(r.topics[0].error_code, 42);
  EXPECT_EQ(r.topics[1].error_code, 42);
  EXPECT_EQ(r.topics[2].error_code, 0);
  EXPECT_EQ(r.topics[2].num_partitions, 2);
  EXPECT_EQ(r.topics[3].error_code, 39);
}

TEST_F(HandlersTest, CreatePartitionsAndDeleteTopics) {
  ASSERT_EQ(create("p", 1).topics[0].error_code, 0);
  proto::create_partitions_request cp;
  cp.topics.push_back({"p", 3, std::nullopt, {}});
  cp.topics.push_back({"missing", 3, std::nullopt, {}});
  auto r = rpc<proto::create_partitions_response>(37, 1, cp);
  EXPECT_EQ(r.results[0].error_code, 0);
  EXPECT_FALSE(r.results[0].error_message.has_value());
  EXPECT_EQ(r.results[1].error_code, 3);
  EXPECT_EQ(broker_->topics().find("p")->partitions.size(), 3u);
  cp.topics.pop_back();
  cp.topics[0].count = 2;
  EXPECT_EQ(rpc<proto::create_partitions_response>(37, 2, cp).results[0].error_code, 37);
  cp.topics[0].count = 5;
  cp.topics[0].assignments = std::vector<proto::create_partitions_request::partition_assignment>{{{1}, {}}};
  EXPECT_EQ(rpc<proto::create_partitions_response>(37, 3, cp).results[0].error_code, 39);

  // DeleteTopics v1 by name, v6 by id.
  ASSERT_EQ(create("q", 1).topics[0].error_code, 0);
  proto::delete_topics_request d1;
  d1.topic_names = {"p", "zzz"};
  auto dr = rpc<proto::delete_topics_response>(20, 1, d1);
  ASSERT_EQ(dr.responses.size(), 2u);
  EXPECT_EQ(dr.responses[0].name, "p");
  EXPECT_EQ(dr.responses[0].error_code, 0);
  EXPECT_EQ(dr.responses[1].error_code, 3);
  proto::delete_topics_request d6;
  proto::delete_topics_request::topic_state ts;
  ts.topic_id.bytes = broker_->topics().find("q")->id;
  d6.topics.push_back(ts);
  proto::delete_topics_request::topic_state unknown;
  unknown.topic_id.bytes[0] = 9;
  d6.topics.push_back(unknown);
  auto d6r = rpc<proto::delete_topics_response>(20, 6, d6);
  ASSERT_EQ(d6r.responses.size(), 2u);
  EXPECT_EQ(d6r.responses[0].error_code, 0);
  EXPECT_EQ(d6r.responses[0].name, "q");
  EXPECT_EQ(d6r.responses[1].error_code, 100);
  EXPECT_FALSE(d6r.responses[1].name.has_value());
  EXPECT_FALSE(broker_->topics().find("q"));
}

TEST_F(HandlersTest, DescribeAndAlterConfigs) {
  ASSERT_EQ(create("cfg", 1, 5, -1, {{"retention.ms", "5000"}}).topics[0].error_code, 0);
  proto::describe_configs_request dc;
  proto::describe_configs_request::resource res;
  res.resource_type = 2;
  res.resource_name = "cfg";
  res.configuration_keys = std::vector<std::string>{"retention.ms", "cleanup.policy"};
  dc.resources.push_back(res);
  res.resource_name = "nope";
  dc.resources.push_back(res);
  res.resource_type = 4;
  res.resource_name = "1";
  res.configuration_keys = std::nullopt;
  dc.resources.push_back(res);
  res.resource_name = "2";
  dc.resources.push_back(res);
  res.resource_type = 3;
  dc.resources.push_back(res);
  dc.include_synonyms = true;
  auto r = rpc<proto::describe_configs_response>(32, 3, dc);
  ASSERT_EQ(r.results.size(), 5u);
  EXPECT_EQ(r.results[0].error_code, 0);
  ASSERT_EQ(r.results[0].configs.size(), 2u);
  const auto& policy = r.results[0].configs[0];
  EXPECT_EQ(policy.name, "cleanup.policy");
  EXPECT_EQ(policy.value, "delete");
  EXPECT_EQ(policy.config_source, 5);
  EXPECT_EQ(policy.config_type, 7);
  ASSERT_EQ(policy.synonyms.size(), 1u);
  EXPECT_EQ(policy.synonyms[0].name, "log.cleanup.policy");
  const auto& ret = r.results[0].configs[1];
  EXPECT_EQ(ret.value, "5000");
  EXPECT_EQ(ret.config_source, 1);
  EXPECT_EQ(ret.config_type, 5);
  ASSERT_EQ(ret.synonyms.size(), 2u);
  EXPECT_EQ(ret.synonyms[0].source, 1);
  EXPECT_EQ(ret.synonyms[1].name, "log.retention.ms");
  EXPECT_EQ(ret.synonyms[1].value, "604800000");
  EXPECT_FALSE(ret.documentation.has_value());
  EXPECT_EQ(r.results[1].error_code, 3);
  EXPECT_EQ(r.results[2].error_code, 0);
  bool np = false;
  for (const auto& e : r.results[2].configs) {
    EXPECT_TRUE(e.read_only);
    if (e.name == "num.partitions") np = e.value == "1";
  }
  EXPECT_TRUE(np);
  EXPECT_EQ(r.results[3].error_code, 42);
  EXPECT_EQ(r.results[4].error_code, 42);
  // v0: is_default.
  dc.resources.resize(1);
  auto r0 = rpc<proto::describe_configs_response>(32, 0, dc);
  EXPECT_TRUE(r0.results[0].configs[0].is_default);
  EXPECT_FALSE(r0.results[0].configs[1].is_default);

  // AlterConfigs replaces the whole set.
  proto::alter_configs_request ac;
  proto::alter_configs_request::resource ar;
  ar.resource_type = 2;
  ar.resource_name = "cfg";
  ar.configs.push_back({"retention.bytes", "100", {}});
  ac.resources.push_back(ar);
  ar.resource_type = 4;
  ar.resource_name = "1";
  ac.resources.push_back(ar);
  auto a = rpc<proto::alter_configs_response>(33, 1, ac);
  ASSERT_EQ(a.responses.size(), 2u);
  EXPECT_EQ(a.responses[0].error_code, 0);
  EXPECT_EQ(a.responses[1].error_code, 42);
  auto cfgs = broker_->topics().find("cfg")->configs;
  EXPECT_EQ(cfgs.size(), 1u);
  EXPECT_EQ(cfgs["retention.bytes"], "100");

  // Incremental: set, delete, append on a non-list, append compact
  // (unsupported).
  proto::incremental_alter_configs_request ic;
  proto::incremental_alter_configs_request::resource ir;
  ir.resource_type = 2;
  ir.resource_name = "cfg";
  ir.configs.push_back({"retention.ms", 0, "7", {}});
  ir.configs.push_back({"retention.bytes", 1, std::nullopt, {}});
  ic.resources.push_back(ir);
  auto i1 = rpc<proto::incremental_alter_configs_response>(44, 1, ic);
  EXPECT_EQ(i1.responses[0].error_code, 0);
  cfgs = broker_->topics().find("cfg")->configs;
  EXPECT_EQ(cfgs.size(), 1u);
  EXPECT_EQ(cfgs["retention.ms"], "7");
  ic.resources[0].configs = {{"retention.ms", 2, "8", {}}};
  EXPECT_EQ(rpc<proto::incremental_alter_configs_response>(44, 0, ic).responses[0].error_code, 40);
  ic.resources[0].configs = {{"cleanup.policy", 2, "compact", {}}};
  EXPECT_EQ(rpc<proto::incremental_alter_configs_response>(44, 0, ic).responses[0].error_code, 40);
  ic.resources[0].configs = {{"cleanup.policy", 2, "delete", {}}};
  EXPECT_EQ(rpc<proto::incremental_alter_configs_response>(44, 0, ic).responses[0].error_code, 0);
  EXPECT_EQ(broker_->topics().find("cfg")->configs["cleanup.policy"], "delete");
  ic.resources[0].configs = {{"retention.ms", 0, "1", {}}, {"retention.ms", 1, std::nullopt, {}}};
  EXPECT_EQ(rpc<proto::incremental_alter_configs_response>(44, 1, ic).responses[0].error_code, 42);
  ic.resources[0].resource_name = "nope";
  ic.resources[0].configs = {{"retention.ms", 0, "1", {}}};
  EXPECT_EQ(rpc<proto::incremental_alter_configs_response>(44, 1, ic).responses[0].error_code, 3);
}

TEST_F(HandlersTest, DeleteRecordsMovesTheStart) {
  ASSERT_EQ(create("dr", 1).topics[0].error_code, 0);
  ASSERT_EQ(produce("dr", 0, batch(5)).responses[0].partition_responses[0].error_code, 0);
  auto del = [&](int32_t partition, int64_t offset, int16_t version = 1) {
    proto::delete_records_request req;
    proto::delete_records_request::topic t;
    t.name = "dr";
    t.partitions.push_back({partition, offset, {}});
    req.topics.push_back(t);
    req.timeout_ms = 1000;
    return rpc<proto::delete_records_response>(21, version, req).topics.at(0).partitions.at(0);
  };
  auto a = del(0, 3);
  EXPECT_EQ(a.error_code, 0);
  EXPECT_EQ(a.low_watermark, 3);
  auto b = del(0, 10, 2);
  EXPECT_EQ(b.error_code, 1);
  EXPECT_EQ(b.low_watermark, -1);
  auto c = del(0, -1, 0);
  EXPECT_EQ(c.error_code, 0);
  EXPECT_EQ(c.low_watermark, 5);
  EXPECT_EQ(del(4, 1).error_code, 3);
}

TEST_F(HandlersTest, ParkedJoinIsAnsweredFromAnotherConnection) {
  proto::join_group_request j;
  j.group_id = "rg";
  j.session_timeout_ms = 10000;
  j.rebalance_timeout_ms = 10000;
  j.protocol_type = "consumer";
  j.protocols.push_back({"range", "m", {}});
  auto a = rpc<proto::join_group_response>(11, 3, j);  // v3: id assigned at once
  ASSERT_EQ(a.error_code, 0);
  ASSERT_EQ(a.generation_id, 1);
  // B joins on a second connection and parks until A rejoins.
  auto b_conn = net::stream::connect("127.0.0.1", server_->port(), 5s);
  ASSERT_TRUE(b_conn);
  std::swap(conn_, b_conn.value());
  {
    proto::writer w;
    proto::request_header h;
    h.api_key = 11;
    h.api_version = 6;
    h.correlation_id = 99;
    h.client_id = "b";
    proto::write_request_header(w, h, proto::request_header_version(11, 6));
    auto jb = j;
    jb.group_instance_id = "b-static";  // static: no KIP-394 round trip
    jb.write(w, 6);
    std::string frame = w.take();
    uint32_t n = htonl(static_cast<uint32_t>(frame.size()));
    std::string out(reinterpret_cast<char*>(&n), 4);
    out += frame;
    boost::system::error_code ec;
    ASSERT_TRUE(conn().write_all(out.data(), out.size(), ec));
  }
  std::swap(conn_, b_conn.value());
  proto::heartbeat_request hb;
  hb.group_id = "rg";
  hb.generation_id = 1;
  hb.member_id = a.member_id;
  for (int i = 0; i < 50; ++i) {
    if (rpc<proto::heartbeat_response>(12, 3, hb).error_code == 27) break;
    std::this_thread::sleep_for(20ms);
  }
  j.member_id = a.member_id;
  auto a2 = rpc<proto::join_group_response>(11, 3, j);
  EXPECT_EQ(a2.error_code, 0);
  EXPECT_EQ(a2.generation_id, 2);
  EXPECT_EQ(a2.members.size(), 2u);
  std::swap(conn_, b_conn.value());
  char hdr[4];
  ASSERT_TRUE(read_exact(hdr, 4));
  uint32_t len;
  std::memcpy(&len, hdr, 4);
  std::string body(ntohl(len), '\0');
  ASSERT_TRUE(read_exact(body.data(), body.size()));
  std::swap(conn_, b_conn.value());
  proto::reader r(body);
  proto::response_header rh;
  proto::read_response_header(r, proto::response_header_version(11, 6), rh);
  EXPECT_EQ(rh.correlation_id, 99);
  proto::join_group_response b;
  b.read(r, 6);
  ASSERT_TRUE(r.status());
  EXPECT_EQ(b.error_code, 0);
  EXPECT_EQ(b.generation_id, 2);
  EXPECT_EQ(b.leader, a.member_id);
  EXPECT_TRUE(b.members.empty());
  EXPECT_TRUE(b.member_id.starts_with("b-static-"));
}

}  // namespace
}  // namespace sluice::kafka
