// Follows Kafka 3.6's GroupCoordinator.scala / GroupMetadata.scala closely;
// comments name the Kafka function a piece mirrors where that helps.
#include "kafka/group/internal/group.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "base/crypto.h"
#include "kafka/group/internal/consumer_protocol.h"

namespace sluice::kafka::group::internal {

std::string_view state_name(group_state s) {
  switch (s) {
    case group_state::empty:
      return "Empty";
    case group_state::preparing_rebalance:
      return "PreparingRebalance";
    case group_state::completing_rebalance:
      return "CompletingRebalance";
    case group_state::stable:
      return "Stable";
    case group_state::dead:
      return "Dead";
  }
  return "Dead";
}

group::group(std::string id, const coordinator_options& opts, int64_t now)
    : id_(std::move(id)), opts_(opts), empty_since_(now) {}

int32_t group::rebalance_timeout_of(const join_request& req) {
  return req.rebalance_timeout_ms > 0 ? req.rebalance_timeout_ms : req.session_timeout_ms;
}

const std::string* group::metadata_for(const member& m, const std::string& protocol) const {
  for (const auto& p : m.protocols) {
    if (p.name == protocol) return &p.metadata;
  }
  return nullptr;
}

// GroupMetadata.supportsProtocols
bool group::supports_protocols(const std::string& type, const std::vector<join_protocol>& protocols) const {
  if (state_ == group_state::empty || members_.empty()) return !type.empty() && !protocols.empty();
  if (protocol_type_ != type) return false;
  return std::any_of(protocols.begin(), protocols.end(), [&](const join_protocol& p) {
    auto it = protocol_counts_.find(p.name);
    return it != protocol_counts_.end() && it->second == members_.size();
  });
}

// GroupCoordinator.acceptJoiningMember
bool group::accept_joining_member(const std::string& member_id) const {
  switch (state_) {
    case group_state::empty:
    case group_state::dead:
      return true;
    case group_state::preparing_rebalance: {
      auto it = members_.find(member_id);
      return (it != members_.end() && it->second.join_cb) || awaiting_join_ < opts_.max_group_size;
    }
    case group_state::completing_rebalance:
    case group_state::stable:
      return members_.contains(member_id) || members_.size() < opts_.max_group_size;
  }
  return false;
}

// GroupCoordinator.validateCurrentMember
errc group::validate_member(const std::string& member_id,
                            const std::optional<std::string>& instance_id) const {
  if (instance_id) {
    auto it = static_members_.find(*instance_id);
    if (it == static_members_.end()) return errc::unknown_member_id;
    if (it->second != member_id) return errc::fenced_instance_id;
    return errc::none;
  }
  return members_.contains(member_id) ? errc::none : errc::unknown_member_id;
}

bool group::matches(const member& m, const std::vector<join_protocol>& protocols) const {
  if (m.protocols.size() != protocols.size()) return false;
  for (size_t i = 0; i < protocols.size(); ++i) {
    if (m.protocols[i].name != protocols[i].name || m.protocols[i].metadata != protocols[i].metadata)
      return false;
  }
  return true;
}

std::vector<group::member*> group::ordered_members() {
  std::vector<member*> v;
  v.reserve(members_.size());
  for (auto& [_, m] : members_) v.push_back(&m);
  std::sort(v.begin(), v.end(), [](const member* a, const member* b) { return a->join_seq < b->join_seq; });
  return v;
}

std::vector<const group::member*> group::ordered_members() const {
  std::vector<const member*> v;
  v.reserve(members_.size());
  for (const auto& [_, m] : members_) v.push_back(&m);
  std::sort(v.begin(), v.end(), [](const member* a, const member* b) { return a->join_seq < b->join_seq; });
  return v;
}

std::vector<join_member> group::member_list() const {
  std::vector<join_member> out;
  out.reserve(members_.size());
  for (const member* m : ordered_members()) {
    const std::string* md = protocol_name_ ? metadata_for(*m, *protocol_name_) : nullptr;
    out.push_back(join_member{m->id, m->instance_id, md ? *md : std::string()});
  }
  return out;
}

join_response group::generation_response(const member& m, bool with_members) const {
  join_response r;
  r.generation_id = generation_;
  r.protocol_type = protocol_type_;
  r.protocol_name = protocol_name_;
  r.leader_id = leader_.value_or("");
  r.member_id = m.id;
  if (with_members) r.members = member_list();
  return r;
}

int32_t group::rebalance_timeout() const {
  int32_t t = 0;
  for (const auto& [_, m] : members_) t = std::max(t, m.rebalance_timeout_ms);
  return t;
}

// MemberMetadata.hasSatisfiedHeartbeat, as a deadline: members parked in a
// join or sync are not expired (except new ones, who have the join timeout).
std::optional<int64_t> group::expiry_of(const member& m) const {
  if (!m.is_new && (m.join_cb || m.sync_cb)) return std::nullopt;
  return m.heartbeat_deadline;
}

// JoinGroup

void group::join(const join_request& req, join_callback done, int64_t now, outbox& out) {
  if (!accept_joining_member(req.member_id)) {
    spdlog::info("kafka group {}: member {:?} rejected: the group has {} members (max {})", id_,
                 req.member_id, members_.size(), opts_.max_group_size);
    if (members_.contains(req.member_id)) drop_member(req.member_id, errc::group_max_size_reached, out);
    join_response r;
    r.error = errc::group_max_size_reached;
    out.calls.push_back([done = std::move(done), r = std::move(r)] { done(r); });
  } else if (req.member_id.empty()) {
    new_member_join(req, std::move(done), now, out);
  } else {
    current_member_join(req, std::move(done), now, out);
  }
  maybe_complete_join(now, out);
}

void group::new_member_join(const join_request& req, join_callback done, int64_t now, outbox& out) {
  auto reply = [&](errc e, std::string member_id) {
    join_response r;
    r.error = e;
    r.member_id = std::move(member_id);
    out.calls.push_back([done = std::move(done), r = std::move(r)] { done(r); });
  };
  if (state_ == group_state::dead) return reply(errc::coordinator_not_available, "");
  if (!supports_protocols(req.protocol_type, req.protocols))
    return reply(errc::inconsistent_group_protocol, "");
  std::string new_id = (req.group_instance_id ? *req.group_instance_id : req.client_id) + "-" + uuid_v4();
  if (req.group_instance_id) {
    auto it = static_members_.find(*req.group_instance_id);
    if (it != static_members_.end()) {
      std::string old_id = it->second;
      update_static_member_and_rebalance(old_id, new_id, req, std::move(done), now, out);
    } else {
      add_member_and_rebalance(new_id, req, std::move(done), now, out);
    }
  } else if (req.require_known_member_id) {
    // KIP-394: the member must come back with this id; until then it holds a
    // place (and holds up a rebalance) for one session timeout.
    if (pending_.size() >= opts_.max_group_size) return reply(errc::group_max_size_reached, "");
    int64_t deadline = now + req.session_timeout_ms;
    pending_[new_id] = deadline;
    out.arm(deadline);
    reply(errc::member_id_required, std::move(new_id));
  } else {
    add_member_and_rebalance(new_id, req, std::move(done), now, out);
  }
}

void group::current_member_join(const join_request& req, join_callback done, int64_t now, outbox& out) {
  auto reply = [&](join_response r) {
    out.calls.push_back([done = std::move(done), r = std::move(r)] { done(r); });
  };
  auto reply_error = [&](errc e) {
    join_response r;
    r.error = e;
    r.member_id = req.member_id;
    reply(std::move(r));
  };
  if (state_ == group_state::dead) return reply_error(errc::coordinator_not_available);
  if (!supports_protocols(req.protocol_type, req.protocols))
    return reply_error(errc::inconsistent_group_protocol);
  if (pending_.contains(req.member_id) && !req.group_instance_id) {
    return add_member_and_rebalance(req.member_id, req, std::move(done), now, out);
  }
  if (errc e = validate_member(req.member_id, req.group_instance_id); e != errc::none) return reply_error(e);
  member& m = members_.at(req.member_id);
  switch (state_) {
    case group_state::preparing_rebalance:
      return update_member_and_rebalance(m, req, std::move(done), now, out,
                                         "member rejoining during rebalance");
    case group_state::completing_rebalance:
      if (matches(m, req.protocols)) {
        // It missed the JoinGroup response: answer it again.
        refresh(m, now, out);
        return reply(generation_response(m, leader_ == m.id));
      }
      return update_member_and_rebalance(m, req, std::move(done), now, out, "member metadata changed");
    case group_state::stable:
      if (leader_ == m.id || !matches(m, req.protocols)) {
        // A leader's rejoin forces a rebalance: that is how it reacts to
        // changes (new partitions) its members' metadata does not show.
        return update_member_and_rebalance(m, req, std::move(done), now, out,
                                           leader_ == m.id ? "leader rejoining" : "member metadata changed");
      }
      refresh(m, now, out);
      return reply(generation_response(m, false));
    case group_state::empty:
    case group_state::dead:
      return reply_error(errc::unknown_member_id);
  }
}

void group::add_member_and_rebalance(const std::string& member_id, const join_request& req,
                                     join_callback done, int64_t now, outbox& out) {
  member m;
  m.id = member_id;
  m.instance_id = req.group_instance_id;
  m.client_id = req.client_id;
  m.client_host = req.client_host;
  m.session_timeout_ms = req.session_timeout_ms;
  m.rebalance_timeout_ms = rebalance_timeout_of(req);
  m.protocols = req.protocols;
  m.join_seq = next_seq_++;
  m.is_new = true;
  // A new member cannot heartbeat while its JoinGroup is parked; it gets
  // this long for the rebalance to finish instead.
  m.heartbeat_deadline = now + opts_.new_member_join_timeout.count();
  out.arm(m.heartbeat_deadline);
  if (state_ == group_state::preparing_rebalance && generation_ == 0) new_member_added_ = true;

  if (members_.empty()) protocol_type_ = req.protocol_type;
  if (!leader_) leader_ = m.id;
  if (m.instance_id) static_members_[*m.instance_id] = m.id;
  count_protocols(m, +1);
  pending_.erase(m.id);
  auto [it, inserted] = members_.emplace(m.id, std::move(m));
  if (!inserted) throw std::logic_error("kafka group: duplicate member id " + member_id);
  set_join_callback(it->second, std::move(done), out);
  spdlog::info("kafka group {}: member {} joined (client {:?}, instance {:?}, {} members)", id_, member_id,
               req.client_id, req.group_instance_id.value_or(""), members_.size());
  maybe_prepare_rebalance(now, out, "new member joined");
}

void group::update_member(member& m, const join_request& req, join_callback done, outbox& out) {
  count_protocols(m, -1);
  m.protocols = req.protocols;
  count_protocols(m, +1);
  m.session_timeout_ms = req.session_timeout_ms;
  m.rebalance_timeout_ms = rebalance_timeout_of(req);
  m.client_id = req.client_id;
  m.client_host = req.client_host;
  set_join_callback(m, std::move(done), out);
}

void group::update_member_and_rebalance(member& m, const join_request& req, join_callback done, int64_t now,
                                        outbox& out, std::string_view reason) {
  update_member(m, req, std::move(done), out);
  maybe_prepare_rebalance(now, out, reason);
}

// GroupCoordinator.updateStaticMemberAndRebalance: a known group.instance.id
// came back with a new member id (a restarted static member).
void group::update_static_member_and_rebalance(const std::string& old_id, const std::string& new_id,
                                               const join_request& req, join_callback done, int64_t now,
                                               outbox& out) {
  std::string old_leader = leader_.value_or("");
  replace_static_member(*req.group_instance_id, old_id, new_id, out);
  member& m = members_.at(new_id);
  refresh(m, now, out);
  update_member(m, req, std::move(done), out);
  spdlog::info("kafka group {}: static member {:?} replaced member {} by {}", id_, *req.group_instance_id,
               old_id, new_id);
  switch (state_) {
    case group_state::stable: {
      if (select_protocol() != protocol_name_) {
        return maybe_prepare_rebalance(now, out, "static member rejoined with other protocols");
      }
      // Same protocol: it takes over its old assignment without a rebalance.
      join_response r = generation_response(m, false);
      if (req.supports_skip_assignment) {
        // v9+: a leader learns it leads but must not run the assignor.
        bool leader = leader_ == m.id;
        if (leader) r.members = member_list();
        r.skip_assignment = leader;
      } else {
        // Before v9 the old leader id is returned, so a static leader does
        // not compute an assignment a Stable group would ignore.
        r.leader_id = old_leader;
      }
      invoke_join(m, std::move(r), out);
      refresh(m, now, out);
      return;
    }
    case group_state::completing_rebalance:
      // The leader may be assigning to the old member id: start over.
      return prepare_rebalance(now, out, "static member rejoined during sync");
    case group_state::preparing_rebalance:
      return;
    case group_state::empty:
    case group_state::dead:
      return maybe_prepare_rebalance(now, out, "static member rejoined");
  }
}

// GroupMetadata.replaceStaticMember
void group::replace_static_member(const std::string& instance_id, const std::string& old_id,
                                  const std::string& new_id, outbox& out) {
  auto node = members_.extract(old_id);
  if (node.empty()) throw std::logic_error("kafka group: static member without member " + old_id);
  member& m = node.mapped();
  if (m.join_cb) {
    join_response r;
    r.error = errc::fenced_instance_id;
    r.member_id = old_id;
    invoke_join(m, std::move(r), out);
  }
  if (m.sync_cb) {
    sync_response r;
    r.error = errc::fenced_instance_id;
    invoke_sync(m, std::move(r), out);
  }
  m.id = new_id;
  node.key() = new_id;
  members_.insert(std::move(node));
  if (leader_ == old_id) leader_ = new_id;
  static_members_[instance_id] = new_id;
  if (pending_sync_.erase(old_id)) pending_sync_.insert(new_id);
}

void group::count_protocols(const member& m, int delta) {
  std::unordered_set<std::string_view> seen;
  for (const auto& p : m.protocols) {
    if (!seen.insert(p.name).second) continue;
    if (delta > 0) {
      ++protocol_counts_[p.name];
    } else if (auto it = protocol_counts_.find(p.name); it != protocol_counts_.end() && --it->second == 0) {
      protocol_counts_.erase(it);
    }
  }
}

void group::set_join_callback(member& m, join_callback cb, outbox& out) {
  if (m.join_cb) {
    // A second JoinGroup while the first is parked (a client retry on a new
    // connection): the first is answered so its connection is not stuck.
    join_response r;
    r.error = errc::rebalance_in_progress;
    r.member_id = m.id;
    invoke_join(m, std::move(r), out);
  }
  m.join_cb = std::move(cb);
  ++awaiting_join_;
}

void group::invoke_join(member& m, join_response r, outbox& out) {
  if (!m.join_cb) return;
  out.calls.push_back([cb = std::move(m.join_cb), r = std::move(r)] { cb(r); });
  m.join_cb = nullptr;
  --awaiting_join_;
}

void group::invoke_sync(member& m, sync_response r, outbox& out) {
  if (!m.sync_cb) return;
  out.calls.push_back([cb = std::move(m.sync_cb), r = std::move(r)] { cb(r); });
  m.sync_cb = nullptr;
}

void group::refresh(member& m, int64_t now, outbox& out) {
  m.heartbeat_deadline = now + m.session_timeout_ms;
  out.arm(m.heartbeat_deadline);
}

// GroupMetadata.remove: bookkeeping only (callbacks: drop_member).
void group::remove_member(const std::string& member_id) {
  auto it = members_.find(member_id);
  if (it != members_.end()) {
    member& m = it->second;
    count_protocols(m, -1);
    if (m.join_cb) --awaiting_join_;
    if (m.instance_id) {
      auto s = static_members_.find(*m.instance_id);
      if (s != static_members_.end() && s->second == member_id) static_members_.erase(s);
    }
    members_.erase(it);
  }
  if (leader_ == member_id) {
    leader_.reset();
    auto order = ordered_members();
    if (!order.empty()) leader_ = order.front()->id;
  }
  pending_.erase(member_id);
  pending_sync_.erase(member_id);
  if (pending_sync_.empty()) sync_deadline_.reset();
}

void group::drop_member(const std::string& member_id, errc e, outbox& out) {
  auto it = members_.find(member_id);
  if (it == members_.end()) return;
  member& m = it->second;
  if (m.join_cb) {
    join_response r;
    r.error = e;
    invoke_join(m, std::move(r), out);
  }
  if (m.sync_cb) {
    sync_response r;
    r.error = e;
    invoke_sync(m, std::move(r), out);
  }
  remove_member(member_id);
}

// GroupCoordinator.removeMemberAndUpdateGroup
void group::remove_member_and_update_group(const std::string& member_id, int64_t now, outbox& out,
                                           std::string_view reason) {
  spdlog::info("kafka group {}: removing member {}: {}", id_, member_id, reason);
  drop_member(member_id, errc::unknown_member_id, out);
  switch (state_) {
    case group_state::dead:
    case group_state::empty:
      break;
    case group_state::stable:
    case group_state::completing_rebalance:
      maybe_prepare_rebalance(now, out, reason);
      break;
    case group_state::preparing_rebalance:
      maybe_complete_join(now, out);
      break;
  }
}

// Rebalance

void group::maybe_prepare_rebalance(int64_t now, outbox& out, std::string_view reason) {
  if (state_ == group_state::stable || state_ == group_state::completing_rebalance ||
      state_ == group_state::empty) {
    prepare_rebalance(now, out, reason);
  }
}

// GroupCoordinator.prepareRebalance
void group::prepare_rebalance(int64_t now, outbox& out, std::string_view reason) {
  if (state_ == group_state::completing_rebalance) {
    reset_and_propagate_assignment_error(errc::rebalance_in_progress, now, out);
  }
  pending_sync_.clear();
  sync_deadline_.reset();
  new_member_added_ = false;
  if (state_ == group_state::empty) {
    // InitialDelayedJoin: let more of a starting group arrive before the
    // first generation.
    int64_t delay = opts_.initial_rebalance_delay.count();
    join_kind_ = join_kind::initial;
    join_deadline_ = now + delay;
    initial_remaining_ms_ = std::max<int64_t>(rebalance_timeout() - delay, 0);
  } else {
    join_kind_ = join_kind::normal;
    join_deadline_ = now + rebalance_timeout();
  }
  out.arm(join_deadline_);
  state_ = group_state::preparing_rebalance;
  spdlog::info("kafka group {}: preparing rebalance (generation {}): {}", id_, generation_, reason);
  maybe_complete_join(now, out);
}

// DelayedJoin.tryComplete: an initial delay always runs out.
void group::maybe_complete_join(int64_t now, outbox& out) {
  if (state_ == group_state::preparing_rebalance && join_kind_ == join_kind::normal && all_members_joined()) {
    complete_join(now, out);
  }
}

void group::on_join_deadline(int64_t now, outbox& out) {
  if (join_kind_ == join_kind::initial && new_member_added_ && initial_remaining_ms_ > 0) {
    // InitialDelayedJoin.onComplete: someone joined meanwhile, wait again.
    new_member_added_ = false;
    int64_t delay = std::min<int64_t>(opts_.initial_rebalance_delay.count(), initial_remaining_ms_);
    initial_remaining_ms_ -= delay;
    join_deadline_ = now + delay;
    out.arm(join_deadline_);
    return;
  }
  complete_join(now, out);
}

// GroupCoordinator.onCompleteJoin
void group::complete_join(int64_t now, outbox& out) {
  std::vector<std::string> gone;
  for (const auto& [id, m] : members_) {
    if (!m.join_cb && !m.instance_id) gone.push_back(id);
  }
  for (const auto& id : gone) {
    spdlog::info("kafka group {}: member {} did not rejoin in time, removing it", id_, id);
    drop_member(id, errc::unknown_member_id, out);
  }
  if (state_ == group_state::dead) return;
  if (!maybe_elect_joined_leader() && !members_.empty()) {
    // Only absent static members: wait for them (or for their sessions to end).
    join_kind_ = join_kind::normal;
    join_deadline_ = now + rebalance_timeout();
    out.arm(join_deadline_);
    return;
  }
  init_next_generation(now);
  if (state_ == group_state::empty) {
    spdlog::info("kafka group {}: generation {} is empty", id_, generation_);
    return;
  }
  spdlog::info("kafka group {}: generation {} with {} members, protocol {}, leader {}", id_, generation_,
               members_.size(), *protocol_name_, leader_.value_or(""));
  std::vector<join_member> list = member_list();
  for (member* m : ordered_members()) {
    join_response r = generation_response(*m, false);
    if (leader_ == m->id) r.members = list;
    invoke_join(*m, std::move(r), out);
    refresh(*m, now, out);
    m->is_new = false;
    pending_sync_.insert(m->id);
  }
  // DelayedSync: members that do not SyncGroup within the rebalance timeout
  // are removed and the group rebalances again.
  sync_deadline_ = now + rebalance_timeout();
  out.arm(*sync_deadline_);
}

// GroupMetadata.maybeElectNewJoinedLeader
bool group::maybe_elect_joined_leader() {
  if (!leader_) return false;
  auto it = members_.find(*leader_);
  if (it != members_.end() && it->second.join_cb) return true;
  for (member* m : ordered_members()) {
    if (m->join_cb) {
      leader_ = m->id;
      return true;
    }
  }
  return false;
}

// GroupMetadata.initNextGeneration
void group::init_next_generation(int64_t now) {
  ++generation_;
  pending_sync_.clear();
  sync_deadline_.reset();
  if (!members_.empty()) {
    protocol_name_ = select_protocol();
    subscribed_ = compute_subscribed_topics();
    state_ = group_state::completing_rebalance;
  } else {
    protocol_name_.reset();
    subscribed_.reset();
    state_ = group_state::empty;
    empty_since_ = now;
  }
}

// GroupMetadata.selectProtocol: among the protocols every member supports,
// each member votes for its most preferred; most votes wins. Ties go to the
// protocol that got its first vote earliest in join order (Kafka: arbitrary).
std::string group::select_protocol() const {
  auto order = ordered_members();
  std::vector<std::pair<std::string, size_t>> votes;  // first-vote order
  for (const member* m : order) {
    for (const auto& p : m->protocols) {
      auto c = protocol_counts_.find(p.name);
      if (c == protocol_counts_.end() || c->second != members_.size()) continue;
      auto v = std::find_if(votes.begin(), votes.end(), [&](const auto& x) { return x.first == p.name; });
      if (v == votes.end()) {
        votes.emplace_back(p.name, 1);
      } else {
        ++v->second;
      }
      break;
    }
  }
  if (votes.empty()) {
    // Cannot happen: every join checks supports_protocols.
    if (order.empty() || order.front()->protocols.empty()) throw std::logic_error("kafka group: no protocol");
    return order.front()->protocols.front().name;
  }
  auto best = votes.begin();
  for (auto v = votes.begin(); v != votes.end(); ++v) {
    if (v->second > best->second) best = v;
  }
  return best->first;
}

// GroupMetadata.computeSubscribedTopics
std::optional<std::set<std::string>> group::compute_subscribed_topics() const {
  if (!is_consumer_group() || !protocol_name_ || members_.empty()) return std::nullopt;
  std::set<std::string> topics;
  for (const auto& [_, m] : members_) {
    const std::string* md = metadata_for(m, *protocol_name_);
    auto t = md ? subscription_topics(*md) : std::nullopt;
    if (!t) {
      spdlog::warn("kafka group {}: cannot read the subscription of member {}", id_, m.id);
      return std::nullopt;
    }
    topics.insert(t->begin(), t->end());
  }
  return topics;
}

bool group::subscribed_to(const std::string& topic) const {
  return subscribed_ && subscribed_->contains(topic);
}

void group::reset_and_propagate_assignment_error(errc e, int64_t now, outbox& out) {
  for (auto& [_, m] : members_) m.assignment.clear();
  propagate_assignment(e, now, out);
}

void group::propagate_assignment(errc e, int64_t now, outbox& out) {
  for (member* m : ordered_members()) {
    if (!m->sync_cb) continue;
    sync_response r;
    r.error = e;
    if (e == errc::none) {
      r.protocol_type = protocol_type_;
      r.protocol_name = protocol_name_;
      r.assignment = m->assignment;
    }
    invoke_sync(*m, std::move(r), out);
    refresh(*m, now, out);
  }
}

// SyncGroup

void group::sync(const sync_request& req, sync_callback done, int64_t now, outbox& out) {
  auto reply = [&](sync_response r) {
    out.calls.push_back([done = std::move(done), r = std::move(r)] { done(r); });
  };
  auto reply_error = [&](errc e) {
    sync_response r;
    r.error = e;
    reply(std::move(r));
  };
  if (state_ == group_state::dead) return reply_error(errc::coordinator_not_available);
  errc e = validate_member(req.member_id, req.group_instance_id);
  if (e == errc::none && req.generation_id != generation_) e = errc::illegal_generation;
  if (e == errc::none && ((req.protocol_type && req.protocol_type != protocol_type_) ||
                          (req.protocol_name && req.protocol_name != protocol_name_))) {
    e = errc::inconsistent_group_protocol;
  }
  if (e != errc::none) return reply_error(e);

  switch (state_) {
    case group_state::empty:
      return reply_error(errc::unknown_member_id);
    case group_state::preparing_rebalance:
      return reply_error(errc::rebalance_in_progress);
    case group_state::completing_rebalance: {
      member& m = members_.at(req.member_id);
      if (m.sync_cb) invoke_sync(m, sync_response{errc::rebalance_in_progress, {}, {}, {}}, out);
      m.sync_cb = std::move(done);
      pending_sync_.erase(m.id);
      if (pending_sync_.empty()) sync_deadline_.reset();
      if (leader_ != m.id) return;
      std::unordered_map<std::string, std::string> assignments;
      for (const auto& a : req.assignments) {
        if (a.assignment.size() > opts_.max_assignment_bytes) {
          spdlog::warn("kafka group {}: leader {} sent a {} byte assignment (max {})", id_, m.id,
                       a.assignment.size(), opts_.max_assignment_bytes);
          reset_and_propagate_assignment_error(errc::unknown_server_error, now, out);
          return maybe_prepare_rebalance(now, out, "assignment too large");
        }
        if (members_.contains(a.member_id)) assignments[a.member_id] = a.assignment;
      }
      for (auto& [id, mem] : members_) {
        auto it = assignments.find(id);
        mem.assignment = it == assignments.end() ? std::string() : std::move(it->second);
      }
      propagate_assignment(errc::none, now, out);
      state_ = group_state::stable;
      spdlog::info("kafka group {}: generation {} stable", id_, generation_);
      return;
    }
    case group_state::stable: {
      member& m = members_.at(req.member_id);
      pending_sync_.erase(m.id);
      if (pending_sync_.empty()) sync_deadline_.reset();
      refresh(m, now, out);
      return reply(sync_response{errc::none, protocol_type_, protocol_name_, m.assignment});
    }
    case group_state::dead:
      return reply_error(errc::coordinator_not_available);
  }
}

// Heartbeat

errc group::heartbeat(const heartbeat_request& req, int64_t now, outbox& out) {
  if (state_ == group_state::dead) return errc::coordinator_not_available;
  if (errc e = validate_member(req.member_id, req.group_instance_id); e != errc::none) return e;
  if (req.generation_id != generation_) return errc::illegal_generation;
  switch (state_) {
    case group_state::empty:
      return errc::unknown_member_id;
    case group_state::completing_rebalance:
    case group_state::stable:
      refresh(members_.at(req.member_id), now, out);
      return errc::none;
    case group_state::preparing_rebalance:
      // Tells the member to rejoin.
      refresh(members_.at(req.member_id), now, out);
      return errc::rebalance_in_progress;
    case group_state::dead:
      break;
  }
  return errc::coordinator_not_available;
}

// LeaveGroup

leave_member_result group::leave(const leave_member& lm, int64_t now, outbox& out) {
  leave_member_result res{lm.member_id, lm.group_instance_id, errc::none};
  std::string reason = lm.reason.empty() ? "left the group" : "left the group: " + lm.reason;
  if (lm.member_id.empty()) {
    // Removal of a static member by instance id (admin tools).
    auto it = lm.group_instance_id ? static_members_.find(*lm.group_instance_id) : static_members_.end();
    if (it == static_members_.end()) {
      res.error = errc::unknown_member_id;
    } else {
      std::string id = it->second;
      remove_member_and_update_group(id, now, out, reason);
    }
  } else if (pending_.contains(lm.member_id)) {
    pending_.erase(lm.member_id);
    maybe_complete_join(now, out);
  } else {
    res.error = validate_member(lm.member_id, lm.group_instance_id);
    if (res.error == errc::none) remove_member_and_update_group(lm.member_id, now, out, reason);
  }
  return res;
}

// OffsetCommit (GroupCoordinator.validateOffsetCommit + doCommitOffsets)

errc group::validate_commit(const offset_commit_request& req, int64_t now, outbox& out) {
  if (state_ == group_state::dead) return errc::coordinator_not_available;
  if (req.generation_id >= 0 || !req.member_id.empty() || req.group_instance_id) {
    if (errc e = validate_member(req.member_id, req.group_instance_id); e != errc::none) return e;
    if (req.generation_id != generation_) return errc::illegal_generation;
  } else if (state_ != group_state::empty) {
    // Standalone commits only while nobody uses the group.
    return errc::unknown_member_id;
  }
  switch (state_) {
    case group_state::empty:
      return errc::none;
    case group_state::stable:
    case group_state::preparing_rebalance:
      // Allowed while rebalancing: the heartbeat tells the member to rejoin.
      refresh(members_.at(req.member_id), now, out);
      return errc::none;
    case group_state::completing_rebalance:
      return errc::rebalance_in_progress;
    case group_state::dead:
      break;
  }
  return errc::coordinator_not_available;
}

// Describe / list

described_group group::describe() const {
  described_group d;
  d.group_id = id_;
  d.state = std::string(state_name(state_));
  d.protocol_type = protocol_type_.value_or("");
  bool stable = state_ == group_state::stable && protocol_name_;
  if (stable) d.protocol_data = *protocol_name_;
  for (const member* m : ordered_members()) {
    described_member dm;
    dm.member_id = m->id;
    dm.group_instance_id = m->instance_id;
    dm.client_id = m->client_id;
    dm.client_host = m->client_host;
    if (stable) {
      const std::string* md = metadata_for(*m, *protocol_name_);
      if (md) dm.metadata = *md;
      dm.assignment = m->assignment;
    }
    d.members.push_back(std::move(dm));
  }
  return d;
}

listed_group group::listing() const {
  return listed_group{id_, protocol_type_.value_or(""), std::string(state_name(state_))};
}

bool group::in_state(const std::vector<std::string>& lower_case_states) const {
  if (lower_case_states.empty()) return true;
  std::string mine(state_name(state_));
  std::transform(mine.begin(), mine.end(), mine.begin(), [](unsigned char c) { return std::tolower(c); });
  return std::find(lower_case_states.begin(), lower_case_states.end(), mine) != lower_case_states.end();
}

// Timers

void group::on_timer(int64_t now, outbox& out) {
  if (state_ == group_state::dead) return;
  bool pending_expired = false;
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->second <= now) {
      spdlog::info("kafka group {}: pending member {} did not rejoin, forgetting it", id_, it->first);
      it = pending_.erase(it);
      pending_expired = true;
    } else {
      ++it;
    }
  }
  if (pending_expired) maybe_complete_join(now, out);

  std::vector<std::string> expired;
  for (const auto& [id, m] : members_) {
    auto e = expiry_of(m);
    if (e && *e <= now) expired.push_back(id);
  }
  for (const auto& id : expired) {
    auto it = members_.find(id);
    if (it == members_.end()) continue;
    auto e = expiry_of(it->second);
    if (!e || *e > now) continue;
    remove_member_and_update_group(id, now, out, it->second.is_new ? "join timed out" : "session timed out");
  }

  if (state_ == group_state::preparing_rebalance && join_deadline_ <= now) on_join_deadline(now, out);

  if ((state_ == group_state::completing_rebalance || state_ == group_state::stable) && sync_deadline_ &&
      *sync_deadline_ <= now) {
    sync_deadline_.reset();
    if (!pending_sync_.empty()) {
      std::vector<std::string> late(pending_sync_.begin(), pending_sync_.end());
      for (const auto& id : late) {
        spdlog::info("kafka group {}: member {} did not SyncGroup in time, removing it", id_, id);
        drop_member(id, errc::unknown_member_id, out);
      }
      prepare_rebalance(now, out, "members did not sync in time");
    }
  }
}

std::optional<int64_t> group::next_deadline() const {
  std::optional<int64_t> next;
  auto consider = [&](int64_t d) {
    if (!next || d < *next) next = d;
  };
  if (state_ == group_state::dead) return next;
  for (const auto& [_, d] : pending_) consider(d);
  for (const auto& [_, m] : members_) {
    if (auto e = expiry_of(m)) consider(*e);
  }
  if (state_ == group_state::preparing_rebalance) consider(join_deadline_);
  if (sync_deadline_ && !pending_sync_.empty()) consider(*sync_deadline_);
  return next;
}

void group::answer_all(errc e, outbox& out) {
  for (auto& [_, m] : members_) {
    if (m.join_cb) {
      join_response r;
      r.error = e;
      r.member_id = m.id;
      invoke_join(m, std::move(r), out);
    }
    if (m.sync_cb) {
      sync_response r;
      r.error = e;
      invoke_sync(m, std::move(r), out);
    }
  }
}

bool group::removable(int64_t now, int64_t age) const {
  return state_ == group_state::empty && offsets_.empty() && pending_.empty() && members_.empty() &&
         now - empty_since_ >= age;
}

}  // namespace sluice::kafka::group::internal
