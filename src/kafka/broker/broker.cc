#include "kafka/broker/broker.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "base/thread.h"
#include "base/wake_batch.h"
#include "kafka/protocol/api_table.h"
#include "kafka/protocol/messages/api_versions.h"

namespace sluice::kafka {

using namespace std::chrono_literals;

namespace {

// Producer ids are handed out from blocks reserved durably in the KV store.
constexpr int64_t pid_block = 1000;
const std::string pid_key = "kafka/producer-id-next";

}  // namespace

// What this broker serves. Minimum versions are low on purpose: librdkafka
// derives features from ranges containing old versions (reference:
// kafka-protocol.md, "librdkafka").
const std::vector<broker::api_entry>& broker::registry() {
  static const std::vector<api_entry> entries = {
      {0, 0, 9, handle_produce},
      {1, 0, 12, handle_fetch},
      {2, 0, 7, handle_list_offsets},
      {3, 0, 12, handle_metadata},
      {8, 0, 8, handle_offset_commit},
      {9, 0, 8, handle_offset_fetch},
      {10, 0, 4, handle_find_coordinator},
      {11, 0, 9, handle_join_group},
      {12, 0, 4, handle_heartbeat},
      {13, 0, 5, handle_leave_group},
      {14, 0, 5, handle_sync_group},
      {15, 0, 5, handle_describe_groups},
      {16, 0, 4, handle_list_groups},
      {17, 0, 1, handle_sasl_handshake},
      {18, 0, 3, handle_api_versions},
      {19, 0, 7, handle_create_topics},
      {20, 0, 6, handle_delete_topics},
      {21, 0, 2, handle_delete_records},
      {22, 0, 4, handle_init_producer_id},
      {23, 0, 4, handle_offset_for_leader_epoch},
      {32, 0, 4, handle_describe_configs},
      {33, 0, 2, handle_alter_configs},
      {37, 0, 3, handle_create_partitions},
      {42, 0, 2, handle_delete_groups},
      {44, 0, 1, handle_incremental_alter_configs},
      {47, 0, 0, handle_offset_delete},
      {60, 0, 0, handle_describe_cluster},
  };
  return entries;
}

broker::broker(broker_options opts, stream::engine& engine, stream::meta::meta_store& meta)
    : opts_(std::move(opts)), engine_(engine), meta_(meta) {}

result<std::unique_ptr<broker>> broker::open(broker_options opts, stream::engine& engine,
                                             stream::meta::meta_store& meta) {
  std::unique_ptr<broker> b(new broker(std::move(opts), engine, meta));
  b->topics_ = std::make_unique<topic_manager>(engine, meta, b->opts_.topics);
  SLUICE_TRY(b->topics_->load());
  auto gopts = b->opts_.groups;
  topic_manager* topics = b->topics_.get();
  gopts.partition_exists = [topics](const std::string& t, int32_t p) {
    return topics->stream_of(t, p).has_value();
  };
  SLUICE_TRY(b->groups_, group::group_coordinator::open(gopts, group::make_meta_offset_store(meta)));
  auto hook = std::make_shared<append_hook>();
  hook->target = b.get();
  b->hook_ = hook;
  // The engine keeps its listeners for its whole life; the hook lets the broker stop first.
  // Parked fetches are woken once per batch of appends made durable together
  // (base/wake_batch.h), through the hook, so never after stop().
  engine.on_append([hook](stream::stream_id id, stream::offset) {
    bool wake = false;
    {
      std::lock_guard lk(hook->mu);
      if (hook->target) wake = hook->target->on_append(id);
    }
    if (!wake) return;
    wake_batch::wake(hook.get(), [hook] {
      std::lock_guard lk(hook->mu);
      if (hook->target) hook->target->wake_fetches();
    });
  });
  for (int i = 0; i < 2; ++i)
    b->fetch_threads_.push_back(named_thread("kafka-fetch", [p = b.get()] { p->fetch_loop(); }));
  spdlog::info("kafka: broker {} ready with {} topics", b->opts_.node_id, b->topics_->list().size());
  return b;
}

broker::~broker() {
  stop();
}

void broker::stop() {
  if (stopping_.exchange(true)) return;
  if (hook_) {
    std::lock_guard lk(hook_->mu);
    hook_->target = nullptr;
  }
  {
    std::lock_guard lk(fetch_mu_);
    fetch_cv_.notify_all();
  }
  for (auto& t : fetch_threads_) t.join();
  // Answer every parked fetch with what is there.
  std::vector<std::shared_ptr<parked_fetch>> left;
  {
    std::lock_guard lk(fetch_mu_);
    left.swap(parked_);
  }
  for (auto& p : left) p->attempt(true);
  if (groups_) groups_->stop();
}

std::shared_ptr<partition_state> broker::partition(stream::stream_id id) {
  std::lock_guard lk(partitions_mu_);
  auto& p = partitions_[id];
  if (!p) p = std::make_shared<partition_state>();
  return p;
}

result<int64_t> broker::next_producer_id() {
  std::lock_guard lk(pid_mu_);
  if (pid_next_ >= pid_limit_) {
    SLUICE_TRY(auto v, meta_.get(pid_key));
    int64_t start = v ? std::stoll(*v) : 1000;
    SLUICE_TRY(meta_.put(pid_key, std::to_string(start + pid_block)));
    pid_next_ = start;
    pid_limit_ = start + pid_block;
  }
  return pid_next_++;
}

void broker::handle(const connection_info& conn, std::string frame, responder respond) {
  protocol::reader r(frame);
  auto h = protocol::read_request_header(r);
  if (!h) {
    spdlog::debug("kafka: {}: bad request header: {}", conn.remote, h.error().message());
    respond(std::nullopt, true);
    return;
  }
  const auto& reg = registry();
  auto it =
      std::find_if(reg.begin(), reg.end(), [&](const api_entry& e) { return e.key == h.value().api_key; });
  if (it == reg.end()) {
    // Kafka closes the connection on an unknown API key.
    spdlog::debug("kafka: {}: unknown API key {}; closing", conn.remote, h.value().api_key);
    respond(std::nullopt, true);
    return;
  }
  int16_t v = h.value().api_version;
  if (v < it->min_version || v > it->max_version) {
    if (it->key == 18) {
      // KIP-511: answer in v0 with UNSUPPORTED_VERSION and our ranges, so the client can retry.
      protocol::api_versions_response resp;
      resp.error_code = static_cast<int16_t>(protocol::error_code::unsupported_version);
      for (const auto& e : reg) resp.api_keys.push_back({e.key, e.min_version, e.max_version});
      protocol::writer w;
      protocol::write_response_header(w, h.value().correlation_id, 0);
      resp.write(w, 0);
      respond(w.take());
      return;
    }
    spdlog::debug("kafka: {}: API {} version {} not supported; closing", conn.remote, it->key, v);
    respond(std::nullopt, true);
    return;
  }
  request_context c{*this, conn, std::move(h).value(), std::move(frame), r.position(), respond};
  try {
    it->fn(c);
  } catch (const std::exception& e) {
    spdlog::error("kafka: {}: API {} v{}: bug: {}", conn.remote, it->key, v, e.what());
    c.close();
  }
}

bool broker::on_append(stream::stream_id id) {
  std::lock_guard lk(fetch_mu_);
  ++append_seq_;
  bool any = false;
  for (auto& p : parked_) {
    if (p->woken) continue;
    if (std::find(p->streams.begin(), p->streams.end(), id) != p->streams.end()) {
      p->woken = true;
      any = true;
    }
  }
  return any;
}

void broker::wake_fetches() {
  // One fetch thread; it wakes the next if more than one fetch is ready.
  std::lock_guard lk(fetch_mu_);
  fetch_cv_.notify_one();
}

void broker::park_fetch(std::vector<stream::stream_id> streams, uint64_t seen_seq,
                        std::chrono::steady_clock::time_point deadline,
                        std::function<bool(bool final)> attempt) {
  auto p = std::make_shared<parked_fetch>();
  p->streams = std::move(streams);
  p->deadline = deadline;
  p->attempt = std::move(attempt);
  {
    std::lock_guard lk(fetch_mu_);
    if (stopping_) {
      p->woken = true;
    } else {
      // Data that arrived since the caller's attempt wakes it at once.
      p->woken = append_seq_ != seen_seq;
      parked_.push_back(p);
      fetch_cv_.notify_one();  // a waiting fetch thread takes its deadline into account
      return;
    }
  }
  p->attempt(true);
}

void broker::fetch_loop() {
  std::unique_lock lk(fetch_mu_);
  while (!stopping_) {
    auto now = std::chrono::steady_clock::now();
    auto next = now + 1s;
    std::shared_ptr<parked_fetch> ready;
    for (auto it = parked_.begin(); it != parked_.end(); ++it) {
      if ((*it)->woken || (*it)->deadline <= now) {
        ready = *it;
        parked_.erase(it);
        break;
      }
      next = std::min(next, (*it)->deadline);
    }
    if (!ready) {
      fetch_cv_.wait_until(lk, next);
      continue;
    }
    // More ready than this one: let another fetch thread take it meanwhile.
    if (std::any_of(parked_.begin(), parked_.end(),
                    [&](const auto& p) { return p->woken || p->deadline <= now; })) {
      fetch_cv_.notify_one();
    }
    uint64_t seq = append_seq_;
    lk.unlock();
    bool final = std::chrono::steady_clock::now() >= ready->deadline;
    bool done = false;
    try {
      done = ready->attempt(final);
    } catch (const std::exception& e) {
      spdlog::error("kafka: fetch: bug: {}", e.what());
      done = true;
    }
    lk.lock();
    if (!done && !stopping_) {
      ready->woken = append_seq_ != seq;
      parked_.push_back(ready);
    } else if (!done) {
      lk.unlock();
      ready->attempt(true);
      lk.lock();
    }
  }
}

}  // namespace sluice::kafka
