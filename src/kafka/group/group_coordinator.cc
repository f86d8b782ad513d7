#include "kafka/group/group_coordinator.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <map>
#include <mutex>
#include <queue>
#include <thread>

#include "base/thread.h"
#include "kafka/group/internal/group.h"

namespace sluice::kafka::group {

using internal::group_state;
using internal::outbox;

namespace {

// A group and its locks. Lock order: commit_mu, then mu, then the
// coordinator's groups_mu, then timers_mu.
struct slot {
  slot(std::string id, const coordinator_options& opts, int64_t now) : g(std::move(id), opts, now) {}
  // Serializes this group's offset store writes (so the store and the cache
  // see commits in the same order) without holding mu during I/O.
  std::mutex commit_mu;
  std::mutex mu;
  internal::group g;                // guarded by mu
  std::optional<int64_t> timer_at;  // guarded by mu: earliest queued timer entry
};

struct timer_entry {
  int64_t deadline;
  std::string group;
  bool operator>(const timer_entry& o) const { return deadline > o.deadline; }
};

// Retries of an operation that found its group deleted under it (a fresh
// group with the same id is made on the next try).
constexpr int kDeadGroupRetries = 3;
// The timer thread re-reads the clock at least this often.
constexpr std::chrono::milliseconds kMaxTimerWait{500};
// run_timers(): rounds of newly due timers (a zero initial delay arms a
// timer that is due at once).
constexpr int kMaxTimerRounds = 64;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

}  // namespace

class group_coordinator::impl {
 public:
  impl(coordinator_options opts, std::shared_ptr<offset_store> store)
      : opts_(std::move(opts)), clock_(opts_.clock ? opts_.clock : real_clock()), store_(std::move(store)) {
    next_sweep_ = clock_->now_ms() + opts_.sweep_interval.count();
  }

  ~impl() { stop(); }

  result<void> load() {
    SLUICE_TRY(auto all, store_->load_all());
    int64_t now = clock_->now_ms();
    std::lock_guard lk(groups_mu_);
    for (auto& s : all) {
      auto& sl = groups_[s.group];
      if (!sl) sl = std::make_shared<slot>(s.group, opts_, now);
      sl->g.offsets()[topic_partition{std::move(s.record.topic), s.record.partition}] =
          std::move(s.record.value);
    }
    spdlog::info("kafka groups: loaded {} committed offsets of {} groups", all.size(), groups_.size());
    return ok();
  }

  void start() {
    if (opts_.background_timer) timer_thread_ = named_thread("group-timer", [this] { timer_loop(); });
  }

  void stop() {
    if (active_.exchange(false)) {
      {
        std::lock_guard lk(timers_mu_);
        stopping_ = true;
      }
      timers_cv_.notify_all();
      if (timer_thread_.joinable()) timer_thread_.join();
    }
    for (auto& s : all_slots()) {
      outbox out;
      {
        std::lock_guard lk(s->mu);
        s->g.answer_all(errc::coordinator_not_available, out);
      }
      out.run();
    }
  }

  void join(join_request req, join_callback done) {
    auto reply = [&](errc e) {
      join_response r;
      r.error = e;
      r.member_id = req.member_id;
      done(std::move(r));
    };
    if (!active_) return reply(errc::coordinator_not_available);
    if (req.group_id.empty() || req.group_id.size() > opts_.max_group_id_bytes) {
      return reply(errc::invalid_group_id);
    }
    if (req.session_timeout_ms < opts_.min_session_timeout.count() ||
        req.session_timeout_ms > opts_.max_session_timeout.count()) {
      return reply(errc::invalid_session_timeout);
    }
    size_t metadata_bytes = 0;
    for (const auto& p : req.protocols) metadata_bytes += p.metadata.size() + p.name.size();
    if (req.protocols.size() > opts_.max_protocols || metadata_bytes > opts_.max_member_metadata_bytes) {
      return reply(errc::invalid_request);
    }
    for (int attempt = 0; attempt < kDeadGroupRetries; ++attempt) {
      // Only a member without an id may create a group.
      auto s = req.member_id.empty() ? get_or_create(req.group_id) : find(req.group_id);
      if (!s) return reply(req.member_id.empty() ? errc::coordinator_not_available : errc::unknown_member_id);
      outbox out;
      {
        std::lock_guard lk(s->mu);
        if (!active_) break;
        if (s->g.state() == group_state::dead) continue;
        s->g.join(req, std::move(done), clock_->now_ms(), out);
        schedule(*s, out.wake);
      }
      out.run();
      return;
    }
    reply(errc::coordinator_not_available);
  }

  void sync(sync_request req, sync_callback done) {
    auto reply = [&](errc e) {
      sync_response r;
      r.error = e;
      done(std::move(r));
    };
    if (!active_) return reply(errc::coordinator_not_available);
    if (req.group_id.empty() || req.group_id.size() > opts_.max_group_id_bytes) {
      return reply(errc::invalid_group_id);
    }
    auto s = find(req.group_id);
    if (!s) return reply(errc::unknown_member_id);
    outbox out;
    {
      std::lock_guard lk(s->mu);
      if (!active_) return reply(errc::coordinator_not_available);
      s->g.sync(req, std::move(done), clock_->now_ms(), out);
      schedule(*s, out.wake);
    }
    out.run();
  }

  errc heartbeat(const heartbeat_request& req) {
    if (!active_) return errc::coordinator_not_available;
    if (req.group_id.empty() || req.group_id.size() > opts_.max_group_id_bytes) return errc::invalid_group_id;
    auto s = find(req.group_id);
    if (!s) return errc::unknown_member_id;
    outbox out;
    errc e;
    {
      std::lock_guard lk(s->mu);
      e = s->g.heartbeat(req, clock_->now_ms(), out);
      schedule(*s, out.wake);
    }
    out.run();
    return e;
  }

  leave_response leave(const leave_request& req) {
    leave_response res;
    if (!active_) return leave_response{errc::coordinator_not_available, {}};
    if (req.group_id.empty() || req.group_id.size() > opts_.max_group_id_bytes) {
      return leave_response{errc::invalid_group_id, {}};
    }
    auto s = find(req.group_id);
    if (!s) {
      for (const auto& m : req.members) {
        res.members.push_back({m.member_id, m.group_instance_id, errc::unknown_member_id});
      }
      return res;
    }
    outbox out;
    {
      std::lock_guard lk(s->mu);
      if (s->g.state() == group_state::dead) return leave_response{errc::coordinator_not_available, {}};
      int64_t now = clock_->now_ms();
      for (const auto& m : req.members) res.members.push_back(s->g.leave(m, now, out));
      schedule(*s, out.wake);
    }
    out.run();
    return res;
  }

  offset_commit_response commit_offsets(const offset_commit_request& req) {
    offset_commit_response res;
    for (const auto& t : req.topics) {
      auto& rt = res.topics.emplace_back();
      rt.name = t.name;
      for (const auto& p : t.partitions) rt.partitions.push_back({p.partition, errc::none});
    }
    // Sets the error of every partition that has none yet.
    auto fail_rest = [&](errc e) {
      for (auto& t : res.topics) {
        for (auto& p : t.partitions) {
          if (p.error == errc::none) p.error = e;
        }
      }
      return res;
    };
    if (!active_) return fail_rest(errc::coordinator_not_available);
    if (req.group_id.size() > opts_.max_group_id_bytes) return fail_rest(errc::invalid_group_id);
    // Unknown partitions first (KafkaApis does this before the coordinator).
    if (opts_.partition_exists) {
      for (size_t i = 0; i < req.topics.size(); ++i) {
        for (size_t j = 0; j < req.topics[i].partitions.size(); ++j) {
          if (!opts_.partition_exists(req.topics[i].name, req.topics[i].partitions[j].partition)) {
            res.topics[i].partitions[j].error = errc::unknown_topic_or_partition;
          }
        }
      }
    }

    for (int attempt = 0; attempt < kDeadGroupRetries; ++attempt) {
      auto s = find(req.group_id);
      if (!s) {
        // No group: only a standalone commit may create one.
        if (req.generation_id >= 0) return fail_rest(errc::illegal_generation);
        s = get_or_create(req.group_id);
        if (!s) return fail_rest(errc::coordinator_not_available);
      }
      std::lock_guard commit_lk(s->commit_mu);
      std::vector<offset_record> writes;
      std::vector<partition_result*> written;  // parallel to writes
      {
        outbox out;
        std::lock_guard lk(s->mu);
        if (s->g.state() == group_state::dead) continue;
        errc e = s->g.validate_commit(req, clock_->now_ms(), out);
        schedule(*s, out.wake);
        if (e != errc::none) return fail_rest(e);
        int64_t wall = clock_->wall_ms();
        auto& cache = s->g.offsets();
        for (size_t i = 0; i < req.topics.size(); ++i) {
          for (size_t j = 0; j < req.topics[i].partitions.size(); ++j) {
            const auto& p = req.topics[i].partitions[j];
            auto& r = res.topics[i].partitions[j];
            if (r.error != errc::none) continue;
            if (p.metadata.size() > opts_.max_offset_metadata_bytes) {
              r.error = errc::offset_metadata_too_large;
              continue;
            }
            committed_offset v{p.offset, p.leader_epoch, p.metadata, wall};
            auto it = cache.find(topic_partition{req.topics[i].name, p.partition});
            if (it != cache.end() && it->second.offset == v.offset &&
                it->second.leader_epoch == v.leader_epoch && it->second.metadata == v.metadata) {
              // Already durable: only the (in-memory) commit time moves.
              it->second.commit_time_ms = wall;
              continue;
            }
            writes.push_back(offset_record{req.topics[i].name, p.partition, std::move(v)});
            written.push_back(&r);
          }
        }
      }
      if (writes.empty()) return res;
      size_t stored = 0;
      auto put = store_->put(req.group_id, writes, &stored);
      if (!put) {
        spdlog::error("kafka group {}: committing {} offsets failed after {}: {}", req.group_id,
                      writes.size(), stored, put.error().message());
        for (size_t k = stored; k < written.size(); ++k) written[k]->error = errc::coordinator_not_available;
      }
      std::lock_guard lk(s->mu);
      auto& cache = s->g.offsets();
      for (size_t k = 0; k < stored; ++k) {
        cache[topic_partition{writes[k].topic, writes[k].partition}] = writes[k].value;
      }
      return res;
    }
    return fail_rest(errc::coordinator_not_available);
  }

  offset_fetch_response fetch_offsets(const offset_fetch_request& req) {
    offset_fetch_response res;
    if (!active_) {
      res.error = errc::coordinator_not_available;
      return res;
    }
    if (req.group_id.size() > opts_.max_group_id_bytes) {
      res.error = errc::invalid_group_id;
      return res;
    }
    auto s = find(req.group_id);
    std::unique_lock<std::mutex> lk;
    const std::map<topic_partition, committed_offset>* cache = nullptr;
    if (s) {
      lk = std::unique_lock(s->mu);
      if (s->g.state() != group_state::dead) cache = &s->g.offsets();
    }
    if (!req.topics) {
      if (!cache) return res;
      for (const auto& [tp, v] : *cache) {
        if (res.topics.empty() || res.topics.back().name != tp.topic) res.topics.push_back({tp.topic, {}});
        res.topics.back().partitions.push_back(
            {tp.partition, v.offset, v.leader_epoch, v.metadata, errc::none});
      }
      return res;
    }
    for (const auto& t : *req.topics) {
      auto& ft = res.topics.emplace_back();
      ft.name = t.name;
      for (int32_t p : t.partitions) {
        fetched_partition fp;
        fp.partition = p;
        if (cache) {
          auto it = cache->find(topic_partition{t.name, p});
          if (it != cache->end()) {
            fp.offset = it->second.offset;
            fp.leader_epoch = it->second.leader_epoch;
            fp.metadata = it->second.metadata;
          }
        }
        ft.partitions.push_back(std::move(fp));
      }
    }
    return res;
  }

  described_group describe_group(const std::string& group_id) {
    described_group dead;
    dead.group_id = group_id;
    dead.state = "Dead";
    if (!active_) {
      dead.error = errc::coordinator_not_available;
      return dead;
    }
    if (group_id.size() > opts_.max_group_id_bytes) {
      dead.error = errc::invalid_group_id;
      return dead;
    }
    auto s = find(group_id);
    if (!s) return dead;
    std::lock_guard lk(s->mu);
    if (s->g.state() == group_state::dead) return dead;
    return s->g.describe();
  }

  list_groups_response list_groups(const std::vector<std::string>& states) {
    list_groups_response res;
    if (!active_) {
      res.error = errc::coordinator_not_available;
      return res;
    }
    std::vector<std::string> wanted;
    for (const auto& s : states) wanted.push_back(lower(s));
    for (auto& s : all_slots()) {
      std::lock_guard lk(s->mu);
      if (s->g.state() == group_state::dead || !s->g.in_state(wanted)) continue;
      res.groups.push_back(s->g.listing());
    }
    return res;
  }

  std::vector<delete_group_result> delete_groups(const std::vector<std::string>& ids) {
    std::vector<delete_group_result> res;
    for (const auto& id : ids) res.push_back({id, delete_group(id)});
    return res;
  }

  errc delete_group(const std::string& id) {
    if (!active_) return errc::coordinator_not_available;
    if (id.size() > opts_.max_group_id_bytes) return errc::invalid_group_id;
    auto s = find(id);
    if (!s) return errc::group_id_not_found;
    std::lock_guard commit_lk(s->commit_mu);
    std::vector<topic_partition> keys;
    {
      std::lock_guard lk(s->mu);
      switch (s->g.state()) {
        case group_state::dead:
          return errc::group_id_not_found;
        case group_state::empty:
          break;
        default:
          return errc::non_empty_group;
      }
      // Dead while its offsets are erased: joins and commits wait for (and
      // then recreate) the group rather than see half of it.
      s->g.mark_dead();
      for (const auto& [tp, _] : s->g.offsets()) keys.push_back(tp);
    }
    size_t erased = 0;
    auto r = store_->erase(id, keys, &erased);
    std::lock_guard lk(s->mu);
    for (size_t k = 0; k < erased; ++k) s->g.offsets().erase(keys[k]);
    if (!r) {
      spdlog::error("kafka group {}: deleting its offsets failed: {}", id, r.error().message());
      s->g.revive_empty();
      return errc::coordinator_not_available;
    }
    unlink(s);
    spdlog::info("kafka group {}: deleted ({} offsets)", id, keys.size());
    return errc::none;
  }

  offset_delete_response delete_offsets(const offset_delete_request& req) {
    offset_delete_response res;
    auto group_error = [&](errc e) {
      res.error = e;
      res.topics.clear();
      return res;
    };
    if (!active_) return group_error(errc::coordinator_not_available);
    if (req.group_id.empty() || req.group_id.size() > opts_.max_group_id_bytes) {
      return group_error(errc::invalid_group_id);
    }
    for (const auto& t : req.topics) {
      auto& rt = res.topics.emplace_back();
      rt.name = t.name;
      for (int32_t p : t.partitions) {
        bool exists = !opts_.partition_exists || opts_.partition_exists(t.name, p);
        rt.partitions.push_back({p, exists ? errc::none : errc::unknown_topic_or_partition});
      }
    }
    auto s = find(req.group_id);
    if (!s) return group_error(errc::group_id_not_found);
    std::lock_guard commit_lk(s->commit_mu);
    std::vector<topic_partition> keys;
    std::vector<partition_result*> erased_results;
    {
      std::lock_guard lk(s->mu);
      const auto& g = s->g;
      switch (g.state()) {
        case group_state::dead:
          return group_error(errc::group_id_not_found);
        case group_state::empty:
          break;
        default:
          if (!g.is_consumer_group()) return group_error(errc::non_empty_group);
          break;
      }
      for (size_t i = 0; i < req.topics.size(); ++i) {
        bool subscribed = g.state() != group_state::empty && g.subscribed_to(req.topics[i].name);
        for (size_t j = 0; j < req.topics[i].partitions.size(); ++j) {
          auto& r = res.topics[i].partitions[j];
          if (r.error != errc::none) continue;
          if (subscribed) {
            r.error = errc::group_subscribed_to_topic;
            continue;
          }
          topic_partition tp{req.topics[i].name, req.topics[i].partitions[j]};
          if (g.offsets().contains(tp)) {
            keys.push_back(std::move(tp));
            erased_results.push_back(&r);
          }
        }
      }
    }
    if (keys.empty()) return res;
    size_t erased = 0;
    auto r = store_->erase(req.group_id, keys, &erased);
    if (!r) {
      spdlog::error("kafka group {}: deleting offsets failed: {}", req.group_id, r.error().message());
      for (size_t k = erased; k < erased_results.size(); ++k) {
        erased_results[k]->error = errc::coordinator_not_available;
      }
    }
    std::lock_guard lk(s->mu);
    for (size_t k = 0; k < erased; ++k) s->g.offsets().erase(keys[k]);
    // GroupMetadataManager.cleanupGroupMetadata: an empty group without
    // offsets is gone.
    if (s->g.removable(clock_->now_ms(), 0)) {
      s->g.mark_dead();
      unlink(s);
    }
    return res;
  }

  // A deleted topic's committed offsets go from every group (Kafka's
  // GroupMetadataManager.cleanupGroupMetadata on topic deletion), so a topic
  // created again under the same name starts without stale positions.
  size_t delete_topic_offsets(const std::string& topic) {
    size_t total = 0;
    for (const auto& s : all_slots()) {
      std::lock_guard commit_lk(s->commit_mu);
      std::vector<topic_partition> keys;
      {
        std::lock_guard lk(s->mu);
        for (const auto& [tp, _] : s->g.offsets()) {
          if (tp.topic == topic) keys.push_back(tp);
        }
      }
      if (keys.empty()) continue;
      size_t erased = 0;
      if (auto r = store_->erase(s->g.id(), keys, &erased); !r) {
        spdlog::error("kafka group {}: deleting offsets of deleted topic {} failed: {}", s->g.id(), topic,
                      r.error().message());
      }
      std::lock_guard lk(s->mu);
      for (size_t k = 0; k < erased; ++k) s->g.offsets().erase(keys[k]);
      total += erased;
      if (s->g.removable(clock_->now_ms(), 0)) {
        s->g.mark_dead();
        unlink(s);
      }
    }
    if (total) spdlog::info("kafka groups: deleted {} committed offsets of deleted topic {}", total, topic);
    return total;
  }

  void run_timers() {
    for (int round = 0; round < kMaxTimerRounds; ++round) {
      if (!run_due(clock_->now_ms())) break;
    }
  }

 private:
  std::shared_ptr<slot> find(const std::string& id) {
    std::lock_guard lk(groups_mu_);
    auto it = groups_.find(id);
    return it == groups_.end() ? nullptr : it->second;
  }

  std::shared_ptr<slot> get_or_create(const std::string& id) {
    std::lock_guard lk(groups_mu_);
    auto it = groups_.find(id);
    if (it != groups_.end()) return it->second;
    if (groups_.size() >= opts_.max_groups) {
      spdlog::warn("kafka groups: not creating group {:?}: {} groups exist (max {})", id, groups_.size(),
                   opts_.max_groups);
      return nullptr;
    }
    auto s = std::make_shared<slot>(id, opts_, clock_->now_ms());
    groups_.emplace(id, s);
    return s;
  }

  // Forgets a dead group (caller holds s->mu).
  void unlink(const std::shared_ptr<slot>& s) {
    std::lock_guard lk(groups_mu_);
    auto it = groups_.find(s->g.id());
    if (it != groups_.end() && it->second == s) groups_.erase(it);
  }

  std::vector<std::shared_ptr<slot>> all_slots() {
    std::lock_guard lk(groups_mu_);
    std::vector<std::shared_ptr<slot>> v;
    v.reserve(groups_.size());
    for (const auto& [_, s] : groups_) v.push_back(s);
    return v;
  }

  // Queues a timer for the group if `wake` is earlier than the one it has
  // (caller holds s.mu). Entries for a group are never removed; a stale one
  // (not the group's timer_at any more) is skipped when it comes due.
  void schedule(slot& s, std::optional<int64_t> wake) {
    if (!wake || (s.timer_at && *s.timer_at <= *wake)) return;
    s.timer_at = *wake;
    bool earliest;
    {
      std::lock_guard lk(timers_mu_);
      earliest = timers_.empty() || *wake < timers_.top().deadline;
      timers_.push(timer_entry{*wake, s.g.id()});
    }
    if (earliest) timers_cv_.notify_one();
  }

  // Runs the timers due at `now` and the sweep if due; whether any ran.
  bool run_due(int64_t now) {
    std::vector<timer_entry> due;
    bool sweep = false;
    {
      std::lock_guard lk(timers_mu_);
      while (!timers_.empty() && timers_.top().deadline <= now) {
        due.push_back(timers_.top());
        timers_.pop();
      }
      if (now >= next_sweep_) {
        sweep = true;
        next_sweep_ = now + opts_.sweep_interval.count();
      }
    }
    for (const auto& e : due) {
      auto s = find(e.group);
      if (!s) continue;
      outbox out;
      {
        std::lock_guard lk(s->mu);
        if (s->timer_at != e.deadline) continue;
        s->timer_at.reset();
        s->g.on_timer(now, out);
        out.wake.reset();
        schedule(*s, s->g.next_deadline());
      }
      out.run();
    }
    if (sweep) run_sweep(now);
    return !due.empty() || sweep;
  }

  // Expires offsets of long-empty groups and forgets empty groups without
  // offsets.
  void run_sweep(int64_t now) {
    int64_t wall = clock_->wall_ms();
    int64_t retention = opts_.offsets_retention.count();
    for (auto& s : all_slots()) {
      std::lock_guard commit_lk(s->commit_mu);
      std::vector<topic_partition> expired;
      {
        std::lock_guard lk(s->mu);
        if (s->g.state() != group_state::empty) continue;
        if (retention > 0 && now - s->g.empty_since() >= retention) {
          for (const auto& [tp, v] : s->g.offsets()) {
            if (wall - v.commit_time_ms >= retention) expired.push_back(tp);
          }
        }
        if (expired.empty()) {
          if (s->g.removable(now, opts_.sweep_interval.count())) {
            s->g.mark_dead();
            unlink(s);
          }
          continue;
        }
      }
      size_t erased = 0;
      auto r = store_->erase(s->g.id(), expired, &erased);
      if (!r) spdlog::error("kafka group {}: expiring offsets failed: {}", s->g.id(), r.error().message());
      std::lock_guard lk(s->mu);
      for (size_t k = 0; k < erased; ++k) s->g.offsets().erase(expired[k]);
      spdlog::info("kafka group {}: expired {} offsets", s->g.id(), erased);
      if (s->g.removable(now, 0)) {
        s->g.mark_dead();
        unlink(s);
      }
    }
  }

  void timer_loop() {
    while (true) {
      run_due(clock_->now_ms());
      std::unique_lock lk(timers_mu_);
      if (stopping_) return;
      int64_t next = next_sweep_;
      if (!timers_.empty()) next = std::min(next, timers_.top().deadline);
      int64_t wait = next - clock_->now_ms();
      if (wait <= 0) continue;
      timers_cv_.wait_for(
          lk, std::min<std::chrono::milliseconds>(std::chrono::milliseconds(wait), kMaxTimerWait));
      if (stopping_) return;
    }
  }

  const coordinator_options opts_;
  const std::shared_ptr<clock> clock_;
  const std::shared_ptr<offset_store> store_;
  std::atomic<bool> active_{true};

  std::mutex groups_mu_;
  std::map<std::string, std::shared_ptr<slot>> groups_;  // by id (ListGroups order)

  std::mutex timers_mu_;
  std::condition_variable timers_cv_;
  std::priority_queue<timer_entry, std::vector<timer_entry>, std::greater<>> timers_;
  int64_t next_sweep_ = 0;
  bool stopping_ = false;
  std::thread timer_thread_;
};

result<std::unique_ptr<group_coordinator>> group_coordinator::open(coordinator_options opts,
                                                                   std::shared_ptr<offset_store> store) {
  auto i = std::make_unique<impl>(std::move(opts), std::move(store));
  SLUICE_TRY(i->load());
  i->start();
  return std::unique_ptr<group_coordinator>(new group_coordinator(std::move(i)));
}

group_coordinator::group_coordinator(std::unique_ptr<impl> i) : impl_(std::move(i)) {}
group_coordinator::~group_coordinator() = default;

void group_coordinator::join(join_request req, join_callback done) {
  impl_->join(std::move(req), std::move(done));
}
void group_coordinator::sync(sync_request req, sync_callback done) {
  impl_->sync(std::move(req), std::move(done));
}
errc group_coordinator::heartbeat(const heartbeat_request& req) {
  return impl_->heartbeat(req);
}
leave_response group_coordinator::leave(const leave_request& req) {
  return impl_->leave(req);
}
offset_commit_response group_coordinator::commit_offsets(const offset_commit_request& req) {
  return impl_->commit_offsets(req);
}
offset_fetch_response group_coordinator::fetch_offsets(const offset_fetch_request& req) {
  return impl_->fetch_offsets(req);
}
described_group group_coordinator::describe_group(const std::string& group_id) {
  return impl_->describe_group(group_id);
}
list_groups_response group_coordinator::list_groups(const std::vector<std::string>& states) {
  return impl_->list_groups(states);
}
std::vector<delete_group_result> group_coordinator::delete_groups(const std::vector<std::string>& group_ids) {
  return impl_->delete_groups(group_ids);
}
offset_delete_response group_coordinator::delete_offsets(const offset_delete_request& req) {
  return impl_->delete_offsets(req);
}
size_t group_coordinator::delete_topic_offsets(const std::string& topic) {
  return impl_->delete_topic_offsets(topic);
}
void group_coordinator::run_timers() {
  impl_->run_timers();
}
void group_coordinator::stop() {
  impl_->stop();
}

}  // namespace sluice::kafka::group
