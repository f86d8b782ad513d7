#pragma once
// One consumer group's state machine: Kafka's classic GroupCoordinator and
// GroupMetadata (core/.../coordinator/group/*.scala, 3.6) for one group.
// Not thread-safe: the coordinator calls it under the group's lock, passing
// the time, and runs what the call leaves in the outbox after unlocking.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "kafka/group/group_coordinator.h"
#include "kafka/group/offset_store.h"
#include "kafka/group/types.h"

namespace sluice::kafka::group::internal {

enum class group_state { empty, preparing_rebalance, completing_rebalance, stable, dead };

// "Empty", "PreparingRebalance", ... (DescribeGroups, ListGroups).
std::string_view state_name(group_state s);

// What a group operation leaves for after the group's lock is released:
// callbacks to run, and the earliest deadline it armed.
struct outbox {
  std::vector<std::function<void()>> calls;
  std::optional<int64_t> wake;

  void arm(int64_t deadline) {
    if (!wake || deadline < *wake) wake = deadline;
  }
  void run() {
    for (auto& c : calls) c();
    calls.clear();
  }
};

class group {
 public:
  // `now` (here and below) is the monotonic clock, ms.
  group(std::string id, const coordinator_options& opts, int64_t now);

  const std::string& id() const { return id_; }
  group_state state() const { return state_; }
  int32_t generation() const { return generation_; }

  // JoinGroup, after the coordinator checked the group id and session timeout.
  void join(const join_request& req, join_callback done, int64_t now, outbox& out);
  void sync(const sync_request& req, sync_callback done, int64_t now, outbox& out);
  errc heartbeat(const heartbeat_request& req, int64_t now, outbox& out);
  leave_member_result leave(const leave_member& m, int64_t now, outbox& out);
  // The membership part of OffsetCommit: whether this member (or a
  // standalone committer) may commit now.
  errc validate_commit(const offset_commit_request& req, int64_t now, outbox& out);

  described_group describe() const;
  listed_group listing() const;
  bool in_state(const std::vector<std::string>& lower_case_states) const;

  // Timers: processes everything due at `now`.
  void on_timer(int64_t now, outbox& out);
  // The earliest pending deadline, if any.
  std::optional<int64_t> next_deadline() const;

  // Answers every parked join/sync with `e` (coordinator shutdown).
  void answer_all(errc e, outbox& out);
  void mark_dead() { state_ = group_state::dead; }
  void revive_empty() { state_ = group_state::empty; }
  // Empty with no offsets and no KIP-394 pending members, for at least `age` ms.
  bool removable(int64_t now, int64_t age) const;
  int64_t empty_since() const { return empty_since_; }

  // OffsetDelete in a non-empty group: consumer groups keep the offsets of
  // topics their members subscribe to.
  bool is_consumer_group() const { return protocol_type_ == "consumer"; }
  bool subscribed_to(const std::string& topic) const;

  // Committed offsets (the in-memory copy of what the offset store holds).
  std::map<topic_partition, committed_offset>& offsets() { return offsets_; }
  const std::map<topic_partition, committed_offset>& offsets() const { return offsets_; }

 private:
  struct member {
    std::string id;
    std::optional<std::string> instance_id;
    std::string client_id;
    std::string client_host;
    int32_t session_timeout_ms = 0;
    int32_t rebalance_timeout_ms = 0;
    std::vector<join_protocol> protocols;
    std::string assignment;
    uint64_t join_seq = 0;  // join order: leader choice, member lists
    bool is_new = false;    // joined, not yet in a generation
    int64_t heartbeat_deadline = 0;
    join_callback join_cb;  // set: awaiting join
    sync_callback sync_cb;  // set: awaiting sync
  };
  enum class join_kind { initial, normal };

  static int32_t rebalance_timeout_of(const join_request& req);
  const std::string* metadata_for(const member& m, const std::string& protocol) const;
  bool supports_protocols(const std::string& type, const std::vector<join_protocol>& protocols) const;
  bool accept_joining_member(const std::string& member_id) const;
  errc validate_member(const std::string& member_id, const std::optional<std::string>& instance_id) const;
  bool matches(const member& m, const std::vector<join_protocol>& protocols) const;
  std::vector<member*> ordered_members();
  std::vector<const member*> ordered_members() const;
  std::vector<join_member> member_list() const;
  join_response generation_response(const member& m, bool with_members) const;
  int32_t rebalance_timeout() const;
  bool all_members_joined() const { return members_.size() == awaiting_join_ && pending_.empty(); }
  std::optional<int64_t> expiry_of(const member& m) const;

  void new_member_join(const join_request& req, join_callback done, int64_t now, outbox& out);
  void current_member_join(const join_request& req, join_callback done, int64_t now, outbox& out);
  void add_member_and_rebalance(const std::string& member_id, const join_request& req, join_callback done,
                                int64_t now, outbox& out);
  void update_member_and_rebalance(member& m, const join_request& req, join_callback done, int64_t now,
                                   outbox& out, std::string_view reason);
  void update_static_member_and_rebalance(const std::string& old_id, const std::string& new_id,
                                          const join_request& req, join_callback done, int64_t now,
                                          outbox& out);
  void update_member(member& m, const join_request& req, join_callback done, outbox& out);
  void replace_static_member(const std::string& instance_id, const std::string& old_id,
                             const std::string& new_id, outbox& out);

  void count_protocols(const member& m, int delta);
  void set_join_callback(member& m, join_callback cb, outbox& out);
  void invoke_join(member& m, join_response r, outbox& out);
  void invoke_sync(member& m, sync_response r, outbox& out);
  void refresh(member& m, int64_t now, outbox& out);
  void remove_member(const std::string& member_id);
  void drop_member(const std::string& member_id, errc e, outbox& out);
  void remove_member_and_update_group(const std::string& member_id, int64_t now, outbox& out,
                                      std::string_view reason);

  void maybe_prepare_rebalance(int64_t now, outbox& out, std::string_view reason);
  void prepare_rebalance(int64_t now, outbox& out, std::string_view reason);
  void maybe_complete_join(int64_t now, outbox& out);
  void on_join_deadline(int64_t now, outbox& out);
  void complete_join(int64_t now, outbox& out);
  bool maybe_elect_joined_leader();
  void init_next_generation(int64_t now);
  std::string select_protocol() const;
  std::optional<std::set<std::string>> compute_subscribed_topics() const;
  void reset_and_propagate_assignment_error(errc e, int64_t now, outbox& out);
  void propagate_assignment(errc e, int64_t now, outbox& out);

  const std::string id_;
  const coordinator_options& opts_;
  group_state state_ = group_state::empty;
  int64_t empty_since_;
  int32_t generation_ = 0;
  std::optional<std::string> protocol_type_;
  std::optional<std::string> protocol_name_;
  std::optional<std::string> leader_;
  std::unordered_map<std::string, member> members_;
  std::unordered_map<std::string, std::string> static_members_;  // instance id -> member id
  std::unordered_map<std::string, int64_t> pending_;             // KIP-394 member id -> expiry
  std::unordered_set<std::string> pending_sync_;                 // members yet to SyncGroup
  std::unordered_map<std::string, size_t> protocol_counts_;      // protocol name -> members supporting it
  size_t awaiting_join_ = 0;
  uint64_t next_seq_ = 0;
  std::optional<std::set<std::string>> subscribed_;

  join_kind join_kind_ = join_kind::normal;
  int64_t join_deadline_ = 0;         // PreparingRebalance only
  int64_t initial_remaining_ms_ = 0;  // initial delay: what is left of the rebalance timeout
  bool new_member_added_ = false;     // a member joined during the initial delay
  std::optional<int64_t> sync_deadline_;

  std::map<topic_partition, committed_offset> offsets_;
};

}  // namespace sluice::kafka::group::internal
