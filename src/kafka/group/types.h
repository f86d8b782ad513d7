#pragma once
// Requests and responses of the group coordinator: plain structs that mirror
// the Kafka messages (JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
// OffsetCommit, OffsetFetch, DescribeGroups, ListGroups, DeleteGroups,
// OffsetDelete) without their wire versions. The broker's handlers adapt the
// codec structs to these. Byte fields (metadata, assignments) are opaque
// std::strings. Where a field is only on newer wire versions the comment says
// what a handler passes for older ones.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "kafka/group/errors.h"

namespace sluice::kafka::group {

// JoinGroup

struct join_protocol {
  std::string name;      // e.g. "range", "roundrobin", "RoundRobinAssigner"
  std::string metadata;  // opaque (ConsumerProtocolSubscription for type "consumer")
};

struct join_request {
  std::string group_id;
  std::string member_id;                         // "" for a member without one yet
  std::optional<std::string> group_instance_id;  // static membership, v5+ (null before)
  std::string protocol_type;                     // "consumer" for consumers
  std::vector<join_protocol> protocols;          // in the member's order of preference
  int32_t session_timeout_ms = 0;
  int32_t rebalance_timeout_ms = -1;  // v1+; <= 0 (v0): the session timeout
  // KIP-394: a new dynamic member first gets MEMBER_ID_REQUIRED. The handler
  // sets this for JoinGroup v4+.
  bool require_known_member_id = false;
  // JoinGroup v9+: a static leader rejoining a stable group may be told to
  // skip the assignment (SkipAssignment).
  bool supports_skip_assignment = false;
  std::string client_id;    // request header client_id; part of generated member ids
  std::string client_host;  // peer address, for DescribeGroups
  std::string reason;       // v8+, logged only
};

struct join_member {
  std::string member_id;
  std::optional<std::string> group_instance_id;
  std::string metadata;  // the member's metadata for the selected protocol
};

struct join_response {
  errc error = errc::none;
  int32_t generation_id = -1;
  std::optional<std::string> protocol_type;  // v7+; null on errors
  std::optional<std::string> protocol_name;  // null on errors (write "" before v7)
  std::string leader_id;
  bool skip_assignment = false;  // v9+
  // Your member id: the assigned one with MEMBER_ID_REQUIRED, else the
  // request's (or the new one of a new or replaced static member).
  std::string member_id;
  std::vector<join_member> members;  // only in the leader's response, in join order
};

// Called once per join(), possibly before join() returns.
using join_callback = std::function<void(join_response)>;

// SyncGroup

struct sync_assignment {
  std::string member_id;
  std::string assignment;
};

struct sync_request {
  std::string group_id;
  int32_t generation_id = -1;
  std::string member_id;
  std::optional<std::string> group_instance_id;  // v3+
  std::optional<std::string> protocol_type;      // v5+; checked when present
  std::optional<std::string> protocol_name;      // v5+; checked when present
  std::vector<sync_assignment> assignments;      // the leader's; empty from followers
};

struct sync_response {
  errc error = errc::none;
  std::optional<std::string> protocol_type;  // v5+
  std::optional<std::string> protocol_name;  // v5+
  std::string assignment;
};

// Called once per sync(), possibly before sync() returns.
using sync_callback = std::function<void(sync_response)>;

// Heartbeat (the answer is one errc)

struct heartbeat_request {
  std::string group_id;
  int32_t generation_id = -1;
  std::string member_id;
  std::optional<std::string> group_instance_id;  // v3+
};

// LeaveGroup

struct leave_member {
  std::string member_id;                         // "" with an instance id: remove that static member
  std::optional<std::string> group_instance_id;  // v3+
  std::string reason;                            // v5+, logged only
};

struct leave_request {
  std::string group_id;
  std::vector<leave_member> members;  // v0-2: the single MemberId
};

struct leave_member_result {
  std::string member_id;
  std::optional<std::string> group_instance_id;
  errc error = errc::none;
};

struct leave_response {
  errc error = errc::none;                   // group level; v0-2 answer members[0].error when this is none
  std::vector<leave_member_result> members;  // request order
};

// OffsetCommit

struct commit_partition {
  int32_t partition = 0;
  int64_t offset = 0;
  int32_t leader_epoch = -1;  // v6+
  std::string metadata;       // null on the wire: ""
};

struct commit_topic {
  std::string name;
  std::vector<commit_partition> partitions;
};

struct offset_commit_request {
  std::string group_id;
  int32_t generation_id = -1;                    // v0: -1 (standalone commit)
  std::string member_id;                         // v0: ""
  std::optional<std::string> group_instance_id;  // v7+
  std::vector<commit_topic> topics;
};

struct partition_result {
  int32_t partition = 0;
  errc error = errc::none;
};

struct topic_result {
  std::string name;
  std::vector<partition_result> partitions;
};

struct offset_commit_response {
  std::vector<topic_result> topics;  // request order
};

// OffsetFetch

struct fetch_topic {
  std::string name;
  std::vector<int32_t> partitions;
};

struct offset_fetch_request {
  std::string group_id;
  std::optional<std::vector<fetch_topic>> topics;  // null (v2+): every committed partition
  // v7+. Accepted; there are no transactional offset commits to wait for, so
  // offsets are always stable.
  bool require_stable = false;
};

struct fetched_partition {
  int32_t partition = 0;
  int64_t offset = -1;  // -1: nothing committed
  int32_t leader_epoch = -1;
  std::string metadata;
  errc error = errc::none;
};

struct fetched_topic {
  std::string name;
  std::vector<fetched_partition> partitions;
};

struct offset_fetch_response {
  errc error = errc::none;            // group level (v2+; before: copy it to every partition)
  std::vector<fetched_topic> topics;  // request order; all: by topic, then partition
};

// DescribeGroups

struct described_member {
  std::string member_id;
  std::optional<std::string> group_instance_id;
  std::string client_id;
  std::string client_host;
  std::string metadata;    // selected protocol's metadata; empty unless Stable
  std::string assignment;  // empty unless Stable
};

struct described_group {
  errc error = errc::none;
  std::string group_id;
  std::string state;          // "Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead"
  std::string protocol_type;  // "" when unknown
  std::string protocol_data;  // the selected protocol when Stable, else ""
  std::vector<described_member> members;
};

// ListGroups

struct listed_group {
  std::string group_id;
  std::string protocol_type;
  std::string state;
};

struct list_groups_response {
  errc error = errc::none;
  std::vector<listed_group> groups;  // by group id
};

// DeleteGroups

struct delete_group_result {
  std::string group_id;
  errc error = errc::none;
};

// OffsetDelete

struct offset_delete_request {
  std::string group_id;
  std::vector<fetch_topic> topics;
};

struct offset_delete_response {
  errc error = errc::none;           // group level: when set, topics is empty
  std::vector<topic_result> topics;  // request order
};

}  // namespace sluice::kafka::group
