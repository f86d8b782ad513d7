// Consumer groups: FindCoordinator, JoinGroup, SyncGroup, Heartbeat,
// LeaveGroup, OffsetCommit, OffsetFetch, DescribeGroups, ListGroups,
// DeleteGroups, OffsetDelete. Each handler turns the codec struct into the
// coordinator's plain types (kafka/group/types.h), calls it, and turns the
// answer back; the per-version rules are in src/kafka/group/README.md.
// group::errc values are Kafka's numbers, so they are cast, not mapped.
#include <spdlog/spdlog.h>

#include "kafka/broker/broker.h"
#include "kafka/broker/internal/handler_util.h"
#include "kafka/protocol/messages/delete_groups.h"
#include "kafka/protocol/messages/describe_groups.h"
#include "kafka/protocol/messages/find_coordinator.h"
#include "kafka/protocol/messages/heartbeat.h"
#include "kafka/protocol/messages/join_group.h"
#include "kafka/protocol/messages/leave_group.h"
#include "kafka/protocol/messages/list_groups.h"
#include "kafka/protocol/messages/offset_commit.h"
#include "kafka/protocol/messages/offset_delete.h"
#include "kafka/protocol/messages/offset_fetch.h"
#include "kafka/protocol/messages/sync_group.h"

namespace sluice::kafka {

using protocol::error_code;
namespace proto = protocol;

namespace {

using detail::code;
using detail::read_request;
using detail::reply_target;
using detail::to_uuid;

int16_t code(group::errc e) {
  return static_cast<int16_t>(e);
}

// DescribeGroups' client_host is Kafka's InetAddress.toString(): "/" + address, no port.
std::string client_host(const std::string& remote) {
  std::string host = remote;
  if (auto colon = host.rfind(':'); colon != std::string::npos) host.resize(colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  return "/" + host;
}

// DescribeGroups v3+ authorized_operations without an authorizer: every
// operation a group supports (Kafka's AclEntry.supportedOperations(GROUP):
// READ 3, DELETE 6, DESCRIBE 8) as a bit field.
constexpr int32_t group_authorized_operations = (1 << 3) | (1 << 6) | (1 << 8);

}  // namespace

// --------------------------------------------------------- FindCoordinator

void handle_find_coordinator(request_context& c) {
  proto::find_coordinator_request req;
  if (!read_request(c, req)) return;
  const auto& o = c.b.options();
  struct answer {
    error_code error = error_code::none;
    std::optional<std::string> message;
    int32_t node_id = -1;  // Kafka's Node.noNode() on errors
    std::string host;
    int32_t port = -1;
  };
  // Key type 0 (groups) and 1 (transactions): this node. Transactions are
  // not supported: InitProducerId with a transactional id then fails with
  // TRANSACTIONAL_ID_AUTHORIZATION_FAILED, which clients treat as fatal, so a
  // transactional producer gets a clear error at once instead of retrying a
  // missing coordinator until its timeout.
  auto lookup = [&](int8_t key_type) {
    answer a;
    if (key_type == 0 || key_type == 1) {
      a.node_id = o.node_id;
      a.host = o.advertised_host;
      a.port = o.advertised_port;
    } else {
      a.error = error_code::invalid_request;
      a.message = "Unknown coordinator key type " + std::to_string(key_type);
    }
    return a;
  };
  proto::find_coordinator_response resp;
  if (c.version() >= 4) {
    for (const auto& key : req.coordinator_keys) {
      auto a = lookup(req.key_type);
      proto::find_coordinator_response::coordinator co;
      co.key = key;
      co.node_id = a.node_id;
      co.host = a.host;
      co.port = a.port;
      co.error_code = code(a.error);
      co.error_message = a.message;
      resp.coordinators.push_back(std::move(co));
    }
  } else {
    auto a = lookup(req.key_type);
    resp.error_code = code(a.error);
    resp.error_message = a.message;
    resp.node_id = a.node_id;
    resp.host = a.host;
    resp.port = a.port;
  }
  c.reply(resp);
}

// --------------------------------------------------------------- JoinGroup

void handle_join_group(request_context& c) {
  proto::join_group_request req;
  if (!read_request(c, req)) return;
  const int16_t v = c.version();
  group::join_request j;
  j.group_id = std::move(req.group_id);
  j.member_id = std::move(req.member_id);
  j.group_instance_id = std::move(req.group_instance_id);  // v5+; null before
  j.protocol_type = std::move(req.protocol_type);
  for (auto& p : req.protocols) j.protocols.push_back({std::move(p.name), std::move(p.metadata)});
  j.session_timeout_ms = req.session_timeout_ms;
  j.rebalance_timeout_ms = v >= 1 ? req.rebalance_timeout_ms : -1;
  j.require_known_member_id = v >= 4;   // KIP-394
  j.supports_skip_assignment = v >= 9;  // KIP-814
  j.client_id = c.header.client_id.value_or("");
  j.client_host = client_host(c.conn.remote);
  j.reason = req.reason.value_or("");
  c.b.groups().join(std::move(j), [to = reply_target(c)](group::join_response r) {
    proto::join_group_response resp;
    resp.error_code = code(r.error);
    resp.generation_id = r.generation_id;
    resp.protocol_type = std::move(r.protocol_type);
    resp.protocol_name = std::move(r.protocol_name);
    // ProtocolName is nullable from v7 only.
    if (!resp.protocol_name && to.version < 7) resp.protocol_name = "";
    resp.leader = std::move(r.leader_id);
    resp.skip_assignment = r.skip_assignment;
    resp.member_id = std::move(r.member_id);
    for (auto& m : r.members) {
      proto::join_group_response::member pm;
      pm.member_id = std::move(m.member_id);
      pm.group_instance_id = std::move(m.group_instance_id);
      pm.metadata = std::move(m.metadata);
      resp.members.push_back(std::move(pm));
    }
    to.send(resp);
  });
}

// --------------------------------------------------------------- SyncGroup

void handle_sync_group(request_context& c) {
  proto::sync_group_request req;
  if (!read_request(c, req)) return;
  group::sync_request s;
  s.group_id = std::move(req.group_id);
  s.generation_id = req.generation_id;
  s.member_id = std::move(req.member_id);
  s.group_instance_id = std::move(req.group_instance_id);  // v3+
  s.protocol_type = std::move(req.protocol_type);          // v5+
  s.protocol_name = std::move(req.protocol_name);          // v5+
  for (auto& a : req.assignments) s.assignments.push_back({std::move(a.member_id), std::move(a.assignment)});
  c.b.groups().sync(std::move(s), [to = reply_target(c)](group::sync_response r) {
    proto::sync_group_response resp;
    resp.error_code = code(r.error);
    if (to.version >= 5) {
      resp.protocol_type = std::move(r.protocol_type);
      resp.protocol_name = std::move(r.protocol_name);
    }
    resp.assignment = std::move(r.assignment);
    to.send(resp);
  });
}

// --------------------------------------------------------------- Heartbeat

void handle_heartbeat(request_context& c) {
  proto::heartbeat_request req;
  if (!read_request(c, req)) return;
  group::heartbeat_request h;
  h.group_id = std::move(req.group_id);
  h.generation_id = req.generation_id;
  h.member_id = std::move(req.member_id);
  h.group_instance_id = std::move(req.group_instance_id);  // v3+
  proto::heartbeat_response resp;
  resp.error_code = code(c.b.groups().heartbeat(h));
  c.reply(resp);
}

// -------------------------------------------------------------- LeaveGroup

void handle_leave_group(request_context& c) {
  proto::leave_group_request req;
  if (!read_request(c, req)) return;
  const int16_t v = c.version();
  group::leave_request l;
  l.group_id = std::move(req.group_id);
  if (v <= 2) {
    l.members.push_back({std::move(req.member_id), std::nullopt, {}});
  } else {
    for (auto& m : req.members) {
      l.members.push_back({std::move(m.member_id), std::move(m.group_instance_id), m.reason.value_or("")});
    }
  }
  auto r = c.b.groups().leave(l);
  proto::leave_group_response resp;
  if (v <= 2) {
    // One member: its error is the answer unless the group itself failed.
    group::errc e = r.error;
    if (e == group::errc::none && !r.members.empty()) e = r.members.front().error;
    resp.error_code = code(e);
  } else {
    resp.error_code = code(r.error);
    for (auto& m : r.members) {
      proto::leave_group_response::member_response pm;
      pm.member_id = std::move(m.member_id);
      pm.group_instance_id = std::move(m.group_instance_id);
      pm.error_code = code(m.error);
      resp.members.push_back(std::move(pm));
    }
  }
  c.reply(resp);
}

// ------------------------------------------------------------ OffsetCommit

void handle_offset_commit(request_context& c) {
  proto::offset_commit_request req;
  if (!read_request(c, req)) return;
  group::offset_commit_request oc;
  oc.group_id = std::move(req.group_id);
  // v0 has neither: a standalone commit (generation -1, no member), the codec's defaults.
  oc.generation_id = req.generation_id;
  oc.member_id = std::move(req.member_id);
  oc.group_instance_id = std::move(req.group_instance_id);  // v7+
  // RetentionTimeMs (v2-4) and CommitTimestamp (v1) are ignored, as Kafka 3.x
  // does: retention is the broker's offsets.retention.minutes.
  for (auto& t : req.topics) {
    group::commit_topic ct;
    ct.name = std::move(t.name);
    for (auto& p : t.partitions) {
      ct.partitions.push_back({p.partition_index, p.committed_offset, p.committed_leader_epoch,
                               std::move(p.committed_metadata).value_or("")});
    }
    oc.topics.push_back(std::move(ct));
  }
  auto r = c.b.groups().commit_offsets(oc);  // blocks for the durable store writes
  proto::offset_commit_response resp;
  for (auto& t : r.topics) {
    proto::offset_commit_response::topic_response tr;
    tr.name = std::move(t.name);
    for (const auto& p : t.partitions) {
      proto::offset_commit_response::partition_response pr;
      pr.partition_index = p.partition;
      pr.error_code = code(p.error);
      tr.partitions.push_back(pr);
    }
    resp.topics.push_back(std::move(tr));
  }
  c.reply(resp);
}

// ------------------------------------------------------------- OffsetFetch

namespace {

template <class Topic>
std::optional<std::vector<group::fetch_topic>> fetch_topics(std::optional<std::vector<Topic>>& topics) {
  if (!topics) return std::nullopt;
  std::vector<group::fetch_topic> out;
  for (auto& t : *topics) out.push_back({std::move(t.name), std::move(t.partition_indexes)});
  return out;
}

// Fills a v0-7 TopicResponse or a v8 GroupTopicResponse list.
template <class TopicResponse>
std::vector<TopicResponse> fetched_topics(std::vector<group::fetched_topic>& topics) {
  std::vector<TopicResponse> out;
  for (auto& t : topics) {
    TopicResponse tr;
    tr.name = std::move(t.name);
    for (auto& p : t.partitions) {
      typename decltype(tr.partitions)::value_type pr;
      pr.partition_index = p.partition;
      pr.committed_offset = p.offset;
      pr.committed_leader_epoch = p.leader_epoch;
      pr.metadata = std::move(p.metadata);
      pr.error_code = code(p.error);
      tr.partitions.push_back(std::move(pr));
    }
    out.push_back(std::move(tr));
  }
  return out;
}

}  // namespace

void handle_offset_fetch(request_context& c) {
  proto::offset_fetch_request req;
  if (!read_request(c, req)) return;
  const int16_t v = c.version();
  auto& groups = c.b.groups();
  proto::offset_fetch_response resp;
  if (v >= 8) {
    for (auto& g : req.groups) {
      group::offset_fetch_request f;
      f.group_id = std::move(g.group_id);
      f.topics = fetch_topics(g.topics);
      f.require_stable = req.require_stable;
      auto r = groups.fetch_offsets(f);
      proto::offset_fetch_response::group_response gr;
      gr.group_id = std::move(f.group_id);
      gr.error_code = code(r.error);
      gr.topics = fetched_topics<proto::offset_fetch_response::group_topic_response>(r.topics);
      resp.groups.push_back(std::move(gr));
    }
    c.reply(resp);
    return;
  }
  group::offset_fetch_request f;
  f.group_id = std::move(req.group_id);
  f.topics = fetch_topics(req.topics);  // null only from v2
  f.require_stable = req.require_stable;
  auto r = groups.fetch_offsets(f);
  if (v < 2 && r.error != group::errc::none) {
    // No group-level error before v2: every requested partition carries it (Kafka's getErrorResponse).
    r.topics.clear();
    for (const auto& t : f.topics.value_or(std::vector<group::fetch_topic>{})) {
      group::fetched_topic ft;
      ft.name = t.name;
      for (int32_t p : t.partitions) ft.partitions.push_back({p, -1, -1, "", r.error});
      r.topics.push_back(std::move(ft));
    }
  }
  resp.error_code = code(r.error);
  resp.topics = fetched_topics<proto::offset_fetch_response::topic_response>(r.topics);
  c.reply(resp);
}

// ---------------------------------------------------------- DescribeGroups

void handle_describe_groups(request_context& c) {
  proto::describe_groups_request req;
  if (!read_request(c, req)) return;
  auto& groups = c.b.groups();
  proto::describe_groups_response resp;
  for (const auto& id : req.groups) {
    auto d = groups.describe_group(id);
    proto::describe_groups_response::described_group g;
    g.error_code = code(d.error);
    g.group_id = std::move(d.group_id);
    g.group_state = std::move(d.state);
    g.protocol_type = std::move(d.protocol_type);
    g.protocol_data = std::move(d.protocol_data);
    for (auto& m : d.members) {
      proto::describe_groups_response::described_member pm;
      pm.member_id = std::move(m.member_id);
      pm.group_instance_id = std::move(m.group_instance_id);
      pm.client_id = std::move(m.client_id);
      pm.client_host = std::move(m.client_host);
      pm.member_metadata = std::move(m.metadata);
      pm.member_assignment = std::move(m.assignment);
      g.members.push_back(std::move(pm));
    }
    if (req.include_authorized_operations) g.authorized_operations = group_authorized_operations;
    resp.groups.push_back(std::move(g));
  }
  c.reply(resp);
}

// -------------------------------------------------------------- ListGroups

void handle_list_groups(request_context& c) {
  proto::list_groups_request req;
  if (!read_request(c, req)) return;
  auto r = c.b.groups().list_groups(req.states_filter);  // v4+; empty before: all
  proto::list_groups_response resp;
  resp.error_code = code(r.error);
  for (auto& g : r.groups) {
    proto::list_groups_response::listed_group lg;
    lg.group_id = std::move(g.group_id);
    lg.protocol_type = std::move(g.protocol_type);
    lg.group_state = std::move(g.state);
    resp.groups.push_back(std::move(lg));
  }
  c.reply(resp);
}

// ------------------------------------------------------------ DeleteGroups

void handle_delete_groups(request_context& c) {
  proto::delete_groups_request req;
  if (!read_request(c, req)) return;
  proto::delete_groups_response resp;
  for (auto& r : c.b.groups().delete_groups(req.groups_names)) {
    proto::delete_groups_response::group_result gr;
    gr.group_id = std::move(r.group_id);
    gr.error_code = code(r.error);
    resp.results.push_back(std::move(gr));
  }
  c.reply(resp);
}

// ------------------------------------------------------------ OffsetDelete

void handle_offset_delete(request_context& c) {
  proto::offset_delete_request req;
  if (!read_request(c, req)) return;
  group::offset_delete_request d;
  d.group_id = std::move(req.group_id);
  for (auto& t : req.topics) {
    group::fetch_topic ft;
    ft.name = std::move(t.name);
    for (const auto& p : t.partitions) ft.partitions.push_back(p.partition_index);
    d.topics.push_back(std::move(ft));
  }
  auto r = c.b.groups().delete_offsets(d);
  proto::offset_delete_response resp;
  resp.error_code = code(r.error);
  for (auto& t : r.topics) {
    proto::offset_delete_response::topic_response tr;
    tr.name = std::move(t.name);
    for (const auto& p : t.partitions) {
      proto::offset_delete_response::partition_response pr;
      pr.partition_index = p.partition;
      pr.error_code = code(p.error);
      tr.partitions.push_back(pr);
    }
    resp.topics.push_back(std::move(tr));
  }
  c.reply(resp);
}

}  // namespace sluice::kafka
