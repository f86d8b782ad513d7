#pragma once
// The consumer group coordinator: Kafka's classic group protocol (JoinGroup,
// SyncGroup, Heartbeat, LeaveGroup) and committed offsets (OffsetCommit,
// OffsetFetch, OffsetDelete), plus DescribeGroups, ListGroups and
// DeleteGroups. Plain C++ types (types.h); the broker's handlers adapt the
// codec structs and answer FindCoordinator with this node. Design, state
// machine and storage format: README.md in this folder.
//
// Threading: every method may be called from any thread. Each group has its
// own lock; no lock is held while a callback runs or while the offset store
// writes, and callbacks may call back into the coordinator.
//
// join() and sync() are long polls: `done` runs exactly once, on one of
//   - the calling thread, before join()/sync() returns (immediate answers);
//   - the thread of another member's join/sync/leave/heartbeat/commit call that
//     completed the rebalance;
//   - the timer thread (or the caller of run_timers()) when a delay, rebalance
//     or session timeout completes it;
//   - the thread calling stop() or the destructor (COORDINATOR_NOT_AVAILABLE).
// Callbacks should only hand the response to the connection (e.g. post it to
// its executor): the timer thread runs all groups' callbacks.
//
// Durability: commit_offsets() returns after the offsets it reports as
// committed (error none) are on stable storage in the offset_store; they are
// loaded back by open() after a restart. Group membership (members,
// generations, assignments) is kept in memory only: after a restart members
// get UNKNOWN_MEMBER_ID and rejoin, as after a coordinator failover.
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/result.h"
#include "kafka/group/clock.h"
#include "kafka/group/errors.h"
#include "kafka/group/offset_store.h"
#include "kafka/group/types.h"

namespace sluice::kafka::group {

struct coordinator_options {
  // group.initial.rebalance.delay.ms: the first rebalance of an empty group
  // waits this long (again for each new joiner, up to the rebalance timeout).
  std::chrono::milliseconds initial_rebalance_delay{3'000};
  // group.min.session.timeout.ms / group.max.session.timeout.ms.
  std::chrono::milliseconds min_session_timeout{6'000};
  std::chrono::milliseconds max_session_timeout{1'800'000};
  // A new member whose JoinGroup is still parked after this long is dropped
  // (Kafka's NewMemberJoinTimeoutMs): it retries if it is still alive.
  std::chrono::milliseconds new_member_join_timeout{300'000};
  // group.max.size (Kafka: unlimited): beyond it, GROUP_MAX_SIZE_REACHED.
  size_t max_group_size = 1'000;
  // Creating a group beyond this many answers COORDINATOR_NOT_AVAILABLE.
  size_t max_groups = 100'000;
  size_t max_group_id_bytes = 1'024;  // longer: INVALID_GROUP_ID
  // JoinGroup bounds (INVALID_REQUEST beyond): protocols per member and the
  // sum of their metadata sizes.
  size_t max_protocols = 32;
  size_t max_member_metadata_bytes = 1 << 20;
  // SyncGroup: one member's assignment; a bigger one fails the generation
  // with UNKNOWN_SERVER_ERROR (as Kafka does when the group is too large to store).
  size_t max_assignment_bytes = 1 << 20;
  // offset.metadata.max.bytes: longer commit metadata gets OFFSET_METADATA_TOO_LARGE.
  size_t max_offset_metadata_bytes = 4'096;
  // offsets.retention.minutes: offsets of an Empty group expire once both the
  // commit and the group's becoming Empty are this old. 0: never.
  std::chrono::milliseconds offsets_retention{std::chrono::hours(24 * 7)};
  // How often expired offsets and empty groups without offsets are removed.
  std::chrono::milliseconds sweep_interval{60'000};
  // Whether a topic partition exists (OffsetCommit and OffsetDelete answer
  // UNKNOWN_TOPIC_OR_PARTITION otherwise). Called without coordinator locks
  // held, from request threads. Empty: every partition exists.
  std::function<bool(const std::string& topic, int32_t partition)> partition_exists;
  // Null: real_clock().
  std::shared_ptr<group::clock> clock;
  // Run timers on an internal thread. Off: the owner calls run_timers()
  // (tests with a manual_clock).
  bool background_timer = true;
};

class group_coordinator {
 public:
  // Loads every committed offset from `store` (its groups start Empty) and
  // starts the timer thread. Fails if the store cannot be read.
  static result<std::unique_ptr<group_coordinator>> open(coordinator_options opts,
                                                         std::shared_ptr<offset_store> store);
  ~group_coordinator();  // stop()
  group_coordinator(const group_coordinator&) = delete;
  group_coordinator& operator=(const group_coordinator&) = delete;

  // JoinGroup. Immediate errors: INVALID_GROUP_ID, INVALID_SESSION_TIMEOUT,
  // INVALID_REQUEST (bounds), UNKNOWN_MEMBER_ID, INCONSISTENT_GROUP_PROTOCOL,
  // FENCED_INSTANCE_ID, GROUP_MAX_SIZE_REACHED, MEMBER_ID_REQUIRED,
  // COORDINATOR_NOT_AVAILABLE. Otherwise `done` runs when the generation forms.
  void join(join_request req, join_callback done);
  // SyncGroup. The leader's call completes everyone's; followers wait for it.
  void sync(sync_request req, sync_callback done);
  errc heartbeat(const heartbeat_request& req);
  leave_response leave(const leave_request& req);
  // Blocks for the offset store's durable writes (one per changed partition).
  offset_commit_response commit_offsets(const offset_commit_request& req);
  offset_fetch_response fetch_offsets(const offset_fetch_request& req);
  // Unknown groups are described as Dead with error none (as Kafka does).
  described_group describe_group(const std::string& group_id);
  // states: case-insensitive filter (ListGroups v4); empty: all groups.
  list_groups_response list_groups(const std::vector<std::string>& states);
  // Empty groups only (NON_EMPTY_GROUP, GROUP_ID_NOT_FOUND); their offsets go too.
  std::vector<delete_group_result> delete_groups(const std::vector<std::string>& group_ids);
  offset_delete_response delete_offsets(const offset_delete_request& req);
  // Removes every group's committed offsets of a deleted topic (durably);
  // returns how many. Empty groups left without offsets are removed.
  size_t delete_topic_offsets(const std::string& topic);

  // Runs every timer due at clock->now_ms() on the calling thread (with
  // background_timer off; harmless with it on).
  void run_timers();
  // Stops the timer thread and answers every parked join/sync with
  // COORDINATOR_NOT_AVAILABLE; later calls get COORDINATOR_NOT_AVAILABLE.
  // Idempotent.
  void stop();

  class impl;

 private:
  explicit group_coordinator(std::unique_ptr<impl> impl);
  std::unique_ptr<impl> impl_;
};

}  // namespace sluice::kafka::group
