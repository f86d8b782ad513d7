#include "worker/consumer.h"

#include <fmt/format.h>
#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>

#include "base/encoding.h"
#include "base/time.h"
#include "worker/errc.h"
#include "worker/offset_tracker.h"

namespace sluice::worker {

namespace json = boost::json;
using clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

// Originals larger than this are left out of dead-letter records (a DLQ
// record must stay below the broker's message size limit).
constexpr size_t kMaxDeadLetterEvent = 256 * 1024;
// Header values copied into dead-letter records are cut at this length.
constexpr size_t kMaxHeaderText = 1024;
// Granularity of the poll loop and of interruptible sleeps.
constexpr milliseconds kTick{100};
// librdkafka's own delivery timeout for dead-letter records; a record that
// times out is produced again (transient).
constexpr int kDlqMessageTimeoutMs = 30'000;

void on_log(const rd_kafka_t*, int level, const char* fac, const char* buf) {
  if (level <= 3) {
    spdlog::warn("librdkafka {}: {}", fac, buf);
  } else {
    spdlog::debug("librdkafka {}: {}", fac, buf);
  }
}

// A dead-letter record's delivery report, shared by the producing thread and
// the delivery callback (which runs on the producer's poll thread).
struct delivery_wait {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
};

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void*) {
  auto* holder = static_cast<std::shared_ptr<delivery_wait>*>(m->_private);
  if (!holder) return;
  {
    std::lock_guard lk((*holder)->mu);
    (*holder)->err = m->err;
    (*holder)->done = true;
  }
  (*holder)->cv.notify_all();
  delete holder;
}

std::string cut(std::string s, size_t n) {
  if (s.size() > n) {
    s.resize(n);
    s += "...";
  }
  return s;
}

result<rd_kafka_conf_t*> make_conf(const std::vector<std::pair<std::string, std::string>>& props) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  for (const auto& [k, v] : props) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return fail(errc::bad_argument, "Kafka property " + k + "=" + v + ": " + err);
    }
  }
  rd_kafka_conf_set_log_cb(conf, on_log);
  return conf;
}

}  // namespace

std::string dead_letter_value(const message& m, const std::string& worker, const std::string& reason,
                              const std::string& error, int attempts) {
  json::object o;
  o["reason"] = reason;
  o["error"] = error;
  o["worker"] = worker;
  o["attempts"] = attempts;
  o["time"] = format_iso8601(std::chrono::system_clock::now());
  json::object src;
  src["topic"] = m.topic;
  src["partition"] = m.partition;
  src["offset"] = m.offset;
  src["key"] = m.key;
  o["source"] = std::move(src);
  if (m.value.size() > kMaxDeadLetterEvent) {
    o["event_truncated"] = true;
  } else {
    boost::system::error_code ec;
    json::value v = json::parse(m.value, ec);
    if (!ec && is_valid_utf8(m.value)) {
      o["event"] = std::move(v);
    } else {
      o["event_base64"] = base64_encode(m.value);
    }
  }
  return json::serialize(o);
}

struct partition_state {
  explicit partition_state(int32_t p) : partition(p) {}
  const int32_t partition;
  offset_tracker tracker;  // guarded by impl::mu_
  int64_t in_flight = 0;   // guarded by impl::mu_
  // Set when the partition is revoked (after the drain timeout) or the worker
  // gives up: handlers of its messages stop, nothing of it is committed.
  std::atomic<bool> abandon{false};
};

struct task {
  message msg;
  std::shared_ptr<partition_state> part;
};

struct consumer::impl {
  consumer_options opts;
  std::shared_ptr<handler> h;
  std::shared_ptr<metrics> m;
  rd_kafka_t* rk = nullptr;        // the group consumer
  rd_kafka_t* producer = nullptr;  // dead-letter records

  std::mutex mu;
  std::condition_variable work_cv;  // queue got a task, or workers must exit
  std::condition_variable done_cv;  // a task finished or was given up
  std::deque<task> queue;
  // Keys with a message being processed → the messages of that key waiting behind it.
  std::unordered_map<std::string, std::deque<task>> lanes;
  std::map<int32_t, std::shared_ptr<partition_state>> parts;
  int64_t in_flight = 0;
  bool workers_exit = false;

  std::atomic<bool> stop_requested{false};
  std::atomic<bool> producer_exit{false};
  std::vector<std::thread> workers;
  std::thread producer_poller;

  ~impl() {
    if (rk) rd_kafka_destroy(rk);
    if (producer) rd_kafka_destroy(producer);
  }

  result<void> start_kafka() {
    std::vector<std::pair<std::string, std::string>> common = {
        {"bootstrap.servers", opts.brokers},
        {"client.id", "sluice-worker-" + opts.worker_name},
    };
    std::vector<std::pair<std::string, std::string>> cprops = common;
    cprops.insert(cprops.end(), {
                                    {"group.id", opts.group},
                                    {"enable.auto.commit", "false"},
                                    {"enable.auto.offset.store", "false"},
                                    {"auto.offset.reset", opts.start_from},
                                    {"max.poll.interval.ms", std::to_string(opts.max_poll_interval.count())},
                                    // Bounded prefetch: events are small, a few thousand are plenty.
                                    {"queued.min.messages", "1000"},
                                    {"queued.max.messages.kbytes", "16384"},
                                    {"allow.auto.create.topics", "true"},
                                });
    cprops.insert(cprops.end(), opts.kafka_properties.begin(), opts.kafka_properties.end());
    SLUICE_TRY(rd_kafka_conf_t * cconf, make_conf(cprops));
    rd_kafka_conf_set_opaque(cconf, this);
    rd_kafka_conf_set_rebalance_cb(cconf, &impl::on_rebalance);
    char err[512];
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, cconf, err, sizeof err);
    if (!rk) {
      rd_kafka_conf_destroy(cconf);
      return fail(errc::kafka_error, std::string("Kafka consumer: ") + err);
    }

    std::vector<std::pair<std::string, std::string>> pprops = common;
    pprops.insert(pprops.end(), {
                                    {"acks", "all"},
                                    {"message.timeout.ms", std::to_string(kDlqMessageTimeoutMs)},
                                    {"linger.ms", "5"},
                                });
    // Consumer-only properties are ignored by the producer (librdkafka logs it at debug level here).
    pprops.insert(pprops.end(), opts.kafka_properties.begin(), opts.kafka_properties.end());
    SLUICE_TRY(rd_kafka_conf_t * pconf, make_conf(pprops));
    rd_kafka_conf_set_dr_msg_cb(pconf, on_delivery);
    producer = rd_kafka_new(RD_KAFKA_PRODUCER, pconf, err, sizeof err);
    if (!producer) {
      rd_kafka_conf_destroy(pconf);
      return fail(errc::kafka_error, std::string("Kafka producer: ") + err);
    }
    return ok();
  }

  // ---- rebalancing (on the poll thread, inside rd_kafka_consumer_poll/close)

  static void on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* list,
                           void* opaque) {
    static_cast<impl*>(opaque)->rebalance(rk, err, list);
  }

  void rebalance(rd_kafka_t* k, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* list) {
    bool cooperative = std::string_view(rd_kafka_rebalance_protocol(k)) == "COOPERATIVE";
    std::string names;
    for (int i = 0; i < list->cnt; ++i) names += (i ? "," : "") + std::to_string(list->elems[i].partition);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      {
        std::lock_guard lk(mu);
        for (int i = 0; i < list->cnt; ++i) {
          parts[list->elems[i].partition] = std::make_shared<partition_state>(list->elems[i].partition);
        }
        m->set_assigned(static_cast<int64_t>(parts.size()));
      }
      spdlog::info("{}: assigned partitions [{}] of {}", opts.worker_name, names, opts.topic);
      if (cooperative) {
        if (rd_kafka_error_t* e = rd_kafka_incremental_assign(k, list)) {
          spdlog::error("{}: incremental assign: {}", opts.worker_name, rd_kafka_error_string(e));
          rd_kafka_error_destroy(e);
        }
      } else {
        rd_kafka_assign(k, list);
      }
      return;
    }
    // Revoked (or lost): finish what is in flight for these partitions, commit, let go.
    std::vector<int32_t> revoked;
    for (int i = 0; i < list->cnt; ++i) revoked.push_back(list->elems[i].partition);
    bool lost = err != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS || rd_kafka_assignment_lost(k);
    drain(revoked, lost);
    if (!lost) commit(revoked);
    {
      std::lock_guard lk(mu);
      for (int32_t p : revoked) parts.erase(p);
      m->set_assigned(static_cast<int64_t>(parts.size()));
    }
    spdlog::info("{}: {} partitions [{}]", opts.worker_name, lost ? "lost" : "revoked", names);
    if (cooperative) {
      if (rd_kafka_error_t* e = rd_kafka_incremental_unassign(k, list)) rd_kafka_error_destroy(e);
    } else {
      rd_kafka_assign(k, nullptr);
    }
  }

  // Waits until the partitions (all when empty) have nothing in flight: up to
  // drain_timeout, then (or at once when `now`) their handlers are told to
  // give up and the wait continues until they returned.
  void drain(const std::vector<int32_t>& which, bool now) {
    auto busy = [&] {
      if (which.empty()) return in_flight > 0;
      for (int32_t p : which) {
        auto it = parts.find(p);
        if (it != parts.end() && it->second->in_flight > 0) return true;
      }
      return false;
    };
    std::unique_lock lk(mu);
    if (!now && done_cv.wait_for(lk, opts.drain_timeout, [&] { return !busy(); })) return;
    if (busy()) {
      spdlog::warn("{}: giving up on {} in-flight messages (redelivered later)", opts.worker_name, in_flight);
    }
    for (auto& [p, st] : parts) {
      if (which.empty() || std::find(which.begin(), which.end(), p) != which.end()) st->abandon = true;
    }
    done_cv.wait(lk, [&] { return !busy(); });
  }

  // Commits what is committable for the partitions (all when empty); a
  // failure is logged and the commit repeated next time.
  void commit(const std::vector<int32_t>& which) {
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(4);
    std::vector<std::pair<std::shared_ptr<partition_state>, int64_t>> sent;
    {
      std::lock_guard lk(mu);
      for (auto& [p, st] : parts) {
        if (!which.empty() && std::find(which.begin(), which.end(), p) == which.end()) continue;
        if (auto next = st->tracker.to_commit()) {
          rd_kafka_topic_partition_list_add(list, opts.topic.c_str(), p)->offset = *next;
          sent.emplace_back(st, *next);
        }
      }
    }
    if (!sent.empty()) {
      rd_kafka_resp_err_t err = rd_kafka_commit(rk, list, 0);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        std::lock_guard lk(mu);
        for (auto& [st, next] : sent) st->tracker.committed(next);
      } else {
        spdlog::warn("{}: committing offsets failed ({}), will retry", opts.worker_name,
                     rd_kafka_err2str(err));
      }
    }
    rd_kafka_topic_partition_list_destroy(list);
  }

  // ---- taking messages

  void dispatch(const rd_kafka_message_t* km) {
    message msg;
    msg.topic = rd_kafka_topic_name(km->rkt);
    msg.partition = km->partition;
    msg.offset = km->offset;
    if (km->key) msg.key.assign(static_cast<const char*>(km->key), km->key_len);
    if (km->payload) msg.value.assign(static_cast<const char*>(km->payload), km->len);
    rd_kafka_timestamp_type_t tstype;
    msg.timestamp_ms = rd_kafka_message_timestamp(km, &tstype);
    rd_kafka_headers_t* hdrs = nullptr;
    if (rd_kafka_message_headers(km, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR && hdrs) {
      const char* name;
      const void* val;
      size_t size;
      for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &val, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
           ++i) {
        msg.headers.emplace_back(name,
                                 val ? std::string(static_cast<const char*>(val), size) : std::string());
      }
    }
    std::lock_guard lk(mu);
    auto it = parts.find(msg.partition);
    if (it == parts.end()) return;  // not ours (any more): the next owner reads it
    it->second->tracker.dispatched(msg.offset);
    ++it->second->in_flight;
    ++in_flight;
    m->set_in_flight(in_flight);
    task t{std::move(msg), it->second};
    if (!t.msg.key.empty()) {
      auto [lane, fresh] = lanes.try_emplace(t.msg.key);
      if (!fresh) {
        lane->second.push_back(std::move(t));
        return;
      }
    }
    queue.push_back(std::move(t));
    work_cv.notify_one();
  }

  // A task left the processing threads: finished (committable) or given up.
  void release(const task& t, bool finished) {
    std::lock_guard lk(mu);
    if (finished) t.part->tracker.finished(t.msg.offset);
    --t.part->in_flight;
    --in_flight;
    m->set_in_flight(in_flight);
    if (!t.msg.key.empty()) {
      auto lane = lanes.find(t.msg.key);
      if (lane != lanes.end()) {
        if (lane->second.empty()) {
          lanes.erase(lane);
        } else {
          queue.push_back(std::move(lane->second.front()));
          lane->second.pop_front();
          work_cv.notify_one();
        }
      }
    }
    done_cv.notify_all();
  }

  // ---- processing threads

  void worker_loop() {
    for (;;) {
      task t;
      {
        std::unique_lock lk(mu);
        work_cv.wait(lk, [&] { return !queue.empty() || workers_exit; });
        if (queue.empty()) break;
        t = std::move(queue.front());
        queue.pop_front();
      }
      bool finished = process(t);
      release(t, finished);
    }
    h->thread_exit();
  }

  // Sleeps up to d; false when the partition was abandoned meanwhile.
  bool pause(const partition_state& part, milliseconds d) {
    auto until = clock::now() + d;
    while (clock::now() < until) {
      if (part.abandon) return false;
      std::this_thread::sleep_for(std::min<clock::duration>(kTick, until - clock::now()));
    }
    return !part.abandon;
  }

  milliseconds backoff(int attempt) {
    thread_local std::mt19937 rng(std::random_device{}());
    int64_t base = opts.retry_backoff.count();
    int64_t d = base;
    for (int i = 1; i < attempt && d < opts.retry_backoff_max.count(); ++i) d *= 2;
    d = std::min<int64_t>(d, opts.retry_backoff_max.count());
    // Equal jitter: half fixed, half random, so retries of many messages spread out.
    return milliseconds(d / 2 + std::uniform_int_distribution<int64_t>(0, std::max<int64_t>(0, d / 2))(rng));
  }

  std::string where(const message& msg) const {
    return fmt::format("{} [{}@{}]", msg.key.empty() ? std::string("(no key)") : msg.key, msg.partition,
                       msg.offset);
  }

  // Exceptions are bugs (or memory exhaustion): the message counts as failed,
  // so it is retried and then dead-lettered instead of taking the worker down.
  outcome call_handler(const message& msg, int attempt, partition_state& part) {
    try {
      return h->handle(msg, attempt, part.abandon);
    } catch (const std::exception& e) {
      spdlog::error("{}: {}: handler threw: {}", opts.worker_name, where(msg), e.what());
      return outcome::failure("exception", std::string("handler threw: ") + e.what());
    }
  }

  // True when the message is finished (its offset may be committed).
  bool process(const task& t) {
    const message& msg = t.msg;
    for (int attempt = 1;; ++attempt) {
      if (t.part->abandon) return false;
      auto started = clock::now();
      outcome o = call_handler(msg, attempt, *t.part);
      auto took = std::chrono::duration_cast<milliseconds>(clock::now() - started);
      switch (o.what) {
        case verdict::done: {
          bool has_latency = o.event_time.has_value();
          milliseconds latency{0};
          if (has_latency) {
            latency =
                std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now() - *o.event_time);
          }
          m->processed(o.outputs, took, latency, has_latency);
          if (has_latency) {
            spdlog::info("{}: {}: {} in {} ms (latency {} ms)", opts.worker_name, where(msg), o.detail,
                         took.count(), latency.count());
          } else {
            spdlog::info("{}: {}: {} in {} ms", opts.worker_name, where(msg), o.detail, took.count());
          }
          return true;
        }
        case verdict::skipped:
          m->skipped();
          if (o.quiet) {
            spdlog::debug("{}: {}: skipped: {}", opts.worker_name, where(msg), o.reason);
          } else {
            spdlog::info("{}: {}: skipped: {}", opts.worker_name, where(msg), o.reason);
          }
          return true;
        case verdict::dead_letter:
          return dead_letter(t, o, attempt);
        case verdict::transient:
          m->failure();
          if (t.part->abandon) return false;
          {
            milliseconds d = backoff(attempt);
            spdlog::warn("{}: {}: attempt {} failed, retrying in {} ms: {}", opts.worker_name, where(msg),
                         attempt, d.count(), o.detail);
            if (!pause(*t.part, d)) return false;
          }
          break;
        case verdict::failed:
          m->failure();
          if (attempt >= opts.max_attempts) return dead_letter(t, o, attempt);
          {
            milliseconds d = backoff(attempt);
            spdlog::warn("{}: {}: attempt {}/{} failed ({}), retrying in {} ms: {}", opts.worker_name,
                         where(msg), attempt, opts.max_attempts, o.reason, d.count(), o.detail);
            if (!pause(*t.part, d)) return false;
          }
          break;
      }
    }
  }

  // Produces the dead-letter record and waits for the broker's ack; retried
  // with backoff while the DLQ is unreachable.
  bool dead_letter(const task& t, const outcome& o, int attempts) {
    const message& msg = t.msg;
    std::string value = dead_letter_value(msg, opts.worker_name, o.reason, o.detail, attempts);
    for (int attempt = 1;; ++attempt) {
      if (t.part->abandon) return false;
      auto err = produce_dead_letter(msg, value, o, attempts);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
      milliseconds d = backoff(attempt);
      spdlog::warn("{}: {}: writing to dead-letter topic {} failed ({}), retrying in {} ms", opts.worker_name,
                   where(msg), dlq_topic(), rd_kafka_err2str(err), d.count());
      if (!pause(*t.part, d)) return false;
    }
    m->dead_lettered();
    spdlog::warn("{}: {}: to dead-letter topic {} ({}): {}", opts.worker_name, where(msg), dlq_topic(),
                 o.reason, o.detail);
    return true;
  }

  std::string dlq_topic() const { return opts.dlq_topic.empty() ? opts.topic + "-dlq" : opts.dlq_topic; }

  rd_kafka_resp_err_t produce_dead_letter(const message& msg, const std::string& value, const outcome& o,
                                          int attempts) {
    rd_kafka_headers_t* hdrs = rd_kafka_headers_new(msg.headers.size() + 6);
    for (const auto& [k, v] : msg.headers) rd_kafka_header_add(hdrs, k.data(), k.size(), v.data(), v.size());
    auto add = [&](const char* k, const std::string& v) {
      rd_kafka_header_add(hdrs, k, -1, v.data(), v.size());
    };
    add("x-sluice-dlq-reason", o.reason);
    add("x-sluice-dlq-error", cut(o.detail, kMaxHeaderText));
    add("x-sluice-dlq-worker", opts.worker_name);
    add("x-sluice-dlq-attempts", std::to_string(attempts));
    add("x-sluice-dlq-source", fmt::format("{}/{}/{}", msg.topic, msg.partition, msg.offset));
    auto wait = std::make_shared<delivery_wait>();
    auto* holder = new std::shared_ptr<delivery_wait>(wait);
    std::string topic = dlq_topic();
    rd_kafka_resp_err_t err = rd_kafka_producev(
        producer, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_KEY(msg.key.data(), msg.key.size()),
        RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(holder),
        RD_KAFKA_V_END);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      rd_kafka_headers_destroy(hdrs);
      delete holder;
      return err;
    }
    std::unique_lock lk(wait->mu);
    // librdkafka reports every produced message within message.timeout.ms.
    wait->cv.wait(lk, [&] { return wait->done; });
    return wait->err;
  }

  // ---- the poll loop

  void update_lag() {
    std::vector<std::pair<int32_t, int64_t>> positions;
    {
      std::lock_guard lk(mu);
      for (auto& [p, st] : parts) positions.emplace_back(p, st->tracker.first_unfinished());
    }
    if (positions.empty()) {
      m->set_lag(0);
      return;
    }
    int64_t lag = 0;
    for (auto [p, first] : positions) {
      int64_t lo = 0, hi = 0;
      if (rd_kafka_get_watermark_offsets(rk, opts.topic.c_str(), p, &lo, &hi) != RD_KAFKA_RESP_ERR_NO_ERROR ||
          hi < 0) {
        m->set_lag(-1);
        return;
      }
      if (first < 0) {
        // Nothing taken from this partition yet: where the consumer will start.
        rd_kafka_topic_partition_list_t* l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, opts.topic.c_str(), p);
        if (rd_kafka_position(rk, l) == RD_KAFKA_RESP_ERR_NO_ERROR && l->elems[0].offset >= 0) {
          first = l->elems[0].offset;
        }
        rd_kafka_topic_partition_list_destroy(l);
      }
      if (first < 0) first = hi;
      lag += std::max<int64_t>(0, hi - first);
    }
    m->set_lag(lag);
  }

  result<void> run() {
    rd_kafka_topic_partition_list_t* sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, opts.topic.c_str(), RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(rk, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return fail(errc::kafka_error,
                  std::string("subscribing to ") + opts.topic + ": " + rd_kafka_err2str(err));
    }
    producer_poller = std::thread([this] {
      while (!producer_exit) rd_kafka_poll(producer, static_cast<int>(kTick.count()));
    });
    for (int i = 0; i < opts.concurrency; ++i) workers.emplace_back([this] { worker_loop(); });
    spdlog::info("{}: consuming {} as group {} from {} ({} threads, dead letters to {})", opts.worker_name,
                 opts.topic, opts.group, opts.brokers, opts.concurrency, dlq_topic());

    auto last_commit = clock::now();
    auto last_summary = clock::now();
    counters last_totals = m->totals();
    std::string last_error;
    auto last_error_time = clock::now() - std::chrono::hours(1);
    const int64_t max_in_flight = opts.max_in_flight > 0 ? opts.max_in_flight : 2 * opts.concurrency;
    while (!stop_requested) {
      auto now = clock::now();
      if (now - last_commit >= opts.commit_interval) {
        commit({});
        last_commit = now;
      }
      if (opts.summary_interval.count() > 0 && now - last_summary >= opts.summary_interval) {
        update_lag();
        spdlog::info("{}", m->summary(last_totals, now - last_summary));
        last_totals = m->totals();
        last_summary = now;
      }
      {
        std::unique_lock lk(mu);
        if (in_flight >= max_in_flight) {
          done_cv.wait_for(lk, kTick);
          continue;
        }
      }
      rd_kafka_message_t* km = rd_kafka_consumer_poll(rk, static_cast<int>(kTick.count()));
      if (!km) continue;
      if (km->err) {
        if (km->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
          // The same error repeats on every poll while it lasts: log it once a minute.
          std::string text = rd_kafka_message_errstr(km);
          if (text != last_error || clock::now() - last_error_time > std::chrono::minutes(1)) {
            spdlog::warn("{}: Kafka: {}", opts.worker_name, text);
            last_error = text;
            last_error_time = clock::now();
          }
        }
      } else {
        dispatch(km);
      }
      rd_kafka_message_destroy(km);
    }

    spdlog::info("{}: stopping: waiting for {} in-flight messages", opts.worker_name, [&] {
      std::lock_guard lk(mu);
      return in_flight;
    }());
    drain({}, false);
    commit({});
    rd_kafka_consumer_close(rk);
    {
      std::lock_guard lk(mu);
      workers_exit = true;
    }
    work_cv.notify_all();
    for (auto& t : workers) t.join();
    workers.clear();
    rd_kafka_flush(producer, 5000);
    producer_exit = true;
    producer_poller.join();
    update_lag();
    spdlog::info("{} (stopped)", m->summary(last_totals, clock::now() - last_summary));
    return ok();
  }
};

result<std::unique_ptr<consumer>> consumer::make(consumer_options opts, std::shared_ptr<handler> h,
                                                 std::shared_ptr<metrics> m) {
  if (opts.topic.empty()) return fail(errc::bad_argument, "no topic");
  if (opts.group.empty()) return fail(errc::bad_argument, "no consumer group");
  if (opts.start_from != "earliest" && opts.start_from != "latest") {
    return fail(errc::bad_argument,
                "start position must be earliest or latest, not '" + opts.start_from + "'");
  }
  if (opts.concurrency < 1 || opts.concurrency > 1024)
    return fail(errc::bad_argument, "concurrency must be 1-1024");
  if (opts.max_attempts < 1) return fail(errc::bad_argument, "max attempts must be at least 1");
  auto p = std::make_unique<impl>();
  p->opts = std::move(opts);
  p->h = std::move(h);
  p->m = std::move(m);
  SLUICE_TRY(p->start_kafka());
  return std::unique_ptr<consumer>(new consumer(std::move(p)));
}

consumer::consumer(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
consumer::~consumer() = default;

result<void> consumer::run() {
  return impl_->run();
}
void consumer::stop() {
  impl_->stop_requested = true;
}
const consumer_options& consumer::options() const {
  return impl_->opts;
}

}  // namespace sluice::worker
