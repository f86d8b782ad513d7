// sluice-kafka-bench: a Kafka load generator in the style of the OpenMessaging
// Benchmark, built on librdkafka, for any Kafka-compatible broker (Sluice,
// Apache Kafka, Redpanda, ...). For each offered load it creates a fresh topic,
// starts a consumer (its own group, from the beginning) and waits for its
// assignment, then runs producers for --seconds and reports:
//   - achieved throughput (MB/s and msgs/s of acknowledged messages),
//   - produce latency p50/p99/p999: from the message's scheduled send time to
//     its delivery report (open loop: a broker that falls behind shows it,
//     no coordinated omission),
//   - end-to-end latency p50/p99/p999: scheduled send time to consumption,
//   - how many acknowledged messages the consumer did not see (must be 0).
// The first --warmup seconds of each load are not counted. With --device-dir
// it also measures the disk under the broker in the same run (fdatasync
// latency and sequential write bandwidth) for the ratio targets of
// docs/BENCHMARKS.md. Prints a table and one JSON line per figure.
#include <fmt/format.h>
#include <librdkafka/rdkafka.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "device_probe.h"

using namespace std::chrono;
using sluice::bench::pct;
using sluice::bench::percentiles;

namespace {

struct options {
  std::string brokers = "127.0.0.1:9092";
  int partitions = 16;
  size_t message_size = 1024;
  std::vector<double> rates = {50, 0};
  double seconds = 20;
  double warmup = 3;
  int producers = 2;
  std::string acks = "all";
  int linger_ms = 1;
  std::string device_dir;
  bool idempotence = false;
  bool client_stats = false;
};

int64_t now_ns() { return duration_cast<nanoseconds>(steady_clock::now().time_since_epoch()).count(); }

rd_kafka_conf_t* make_conf(const options& o, const std::vector<std::pair<std::string, std::string>>& extra) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  auto set = [&](const std::string& k, const std::string& v) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      std::fprintf(stderr, "sluice-kafka-bench: %s=%s: %s\n", k.c_str(), v.c_str(), err);
      std::exit(2);
    }
  };
  set("bootstrap.servers", o.brokers);
  set("log_level", "3");
  for (const auto& [k, v] : extra) set(k, v);
  return conf;
}

// Creates `topic` with the admin API and waits for the answer.
bool create_topic(const options& o, const std::string& topic) {
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, make_conf(o, {}), err, sizeof err);
  if (!rk) {
    std::fprintf(stderr, "sluice-kafka-bench: %s\n", err);
    return false;
  }
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(topic.c_str(), o.partitions, 1, err, sizeof err);
  rd_kafka_CreateTopics(rk, &nt, 1, nullptr, q);
  bool good = false;
  rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 30'000);
  if (ev && rd_kafka_event_error(ev) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    size_t n = 0;
    const rd_kafka_topic_result_t** res = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
    good = n == 1 && (rd_kafka_topic_result_error(res[0]) == RD_KAFKA_RESP_ERR_NO_ERROR ||
                      rd_kafka_topic_result_error(res[0]) == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS);
    if (!good) std::fprintf(stderr, "create topic: %s\n", rd_kafka_topic_result_error_string(res[0]));
  } else {
    std::fprintf(stderr, "create topic: %s\n", ev ? rd_kafka_event_error_string(ev) : "timed out");
  }
  if (ev) rd_kafka_event_destroy(ev);
  rd_kafka_NewTopic_destroy(nt);
  rd_kafka_queue_destroy(q);
  rd_kafka_destroy(rk);
  return good;
}

// Latency samples of one load, in ms, taken only inside the measured window.
struct samples {
  std::mutex mu;
  std::vector<double> produce, e2e;
  uint64_t acked = 0, failed = 0, consumed = 0, acked_total = 0, consumed_total = 0;
};

struct producer_ctx {
  samples* s;
  int64_t window_start, window_end;  // ns, of scheduled send time
};

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* ctx = static_cast<producer_ctx*>(opaque);
  int64_t sched = reinterpret_cast<intptr_t>(m->_private);
  std::lock_guard lk(ctx->s->mu);
  if (m->err) {
    ctx->s->failed++;
    return;
  }
  ctx->s->acked_total++;
  if (sched >= ctx->window_start && sched < ctx->window_end) {
    ctx->s->acked++;
    ctx->s->produce.push_back(static_cast<double>(now_ns() - sched) / 1e6);
  }
}

// --client-stats: librdkafka's own view once a second per producer, to tell
// time spent in the client (queue before a request is sent: int_latency,
// outbuf_latency) from the broker's round trip (rtt), and how many messages
// each ProduceRequest carried.
int on_stats(rd_kafka_t* rk, char* json, size_t, void*) {
  boost::system::error_code ec;
  auto v = boost::json::parse(json, ec);
  if (ec || !v.is_object()) return 0;
  auto window = [](const boost::json::value& w, const char* k) {
    const auto* o = w.if_object();
    const auto* x = o ? o->if_contains(k) : nullptr;
    return x && x->is_number() ? x->to_number<double>() / 1000.0 : 0.0;  // us -> ms
  };
  const auto* brokers = v.as_object().if_contains("brokers");
  if (!brokers || !brokers->is_object()) return 0;
  for (const auto& [name, b] : brokers->as_object()) {
    const auto& bo = b.as_object();
    if (bo.contains("nodeid") && bo.at("nodeid").to_number<int64_t>() < 0) continue;  // bootstrap entry
    const auto* rtt = bo.if_contains("rtt");
    const auto* il = bo.if_contains("int_latency");
    const auto* ol = bo.if_contains("outbuf_latency");
    if (!rtt || !il || !ol) continue;
    std::fprintf(
        stderr,
        "  [%s] rtt p50 %.2f p99 %.2f max %.2f | int_latency p50 %.2f p99 %.2f | outbuf p99 %.2f ms | "
        "tx %lld reqs\n",
        rd_kafka_name(rk), window(*rtt, "p50"), window(*rtt, "p99"), window(*rtt, "max"), window(*il, "p50"),
        window(*il, "p99"), window(*ol, "p99"),
        static_cast<long long>(bo.contains("tx") ? bo.at("tx").to_number<int64_t>() : 0));
  }
  return 0;
}

struct load_result {
  double mbs = 0, msgs = 0;
  percentiles produce, e2e;
  uint64_t failed = 0, missing = 0;
};

load_result run_load(const options& o, double rate_mbs, int index) {
  const std::string topic = fmt::format("sluice-bench-{}-{}", ::getpid(), index);
  if (!create_topic(o, topic)) std::exit(1);
  samples s;
  const int64_t start = now_ns() + 2'000'000'000;  // producers start after the consumer is assigned
  const int64_t window_start = start + static_cast<int64_t>(o.warmup * 1e9);
  const int64_t end = window_start + static_cast<int64_t>(o.seconds * 1e9);

  // Consumer: subscribes before anything is produced, reads from the beginning.
  char err[512];
  rd_kafka_t* consumer = rd_kafka_new(
      RD_KAFKA_CONSUMER,
      make_conf(o, {{"group.id", topic + "-g"}, {"auto.offset.reset", "earliest"}, {"enable.auto.commit", "false"},
                    {"fetch.wait.max.ms", "100"}, {"fetch.max.bytes", "52428800"}}),
      err, sizeof err);
  if (!consumer) {
    std::fprintf(stderr, "consumer: %s\n", err);
    std::exit(1);
  }
  rd_kafka_poll_set_consumer(consumer);
  rd_kafka_topic_partition_list_t* subs = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(subs, topic.c_str(), RD_KAFKA_PARTITION_UA);
  rd_kafka_subscribe(consumer, subs);
  rd_kafka_topic_partition_list_destroy(subs);
  std::atomic<bool> assigned{false}, stop_consumer{false};
  std::thread consumer_thread([&] {
    while (!stop_consumer.load()) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, 100);
      if (!assigned.load()) {
        rd_kafka_topic_partition_list_t* a = nullptr;
        if (rd_kafka_assignment(consumer, &a) == RD_KAFKA_RESP_ERR_NO_ERROR && a) {
          if (a->cnt == o.partitions) assigned = true;
          rd_kafka_topic_partition_list_destroy(a);
        }
      }
      if (!m) continue;
      if (!m->err && m->len >= 8) {
        int64_t sched;
        std::memcpy(&sched, m->payload, 8);
        double lat = static_cast<double>(now_ns() - sched) / 1e6;
        std::lock_guard lk(s.mu);
        s.consumed_total++;
        if (sched >= window_start && sched < end) {
          s.consumed++;
          s.e2e.push_back(lat);
        }
      }
      rd_kafka_message_destroy(m);
    }
  });
  auto wait_until = steady_clock::now() + seconds(30);
  while (!assigned.load() && steady_clock::now() < wait_until) std::this_thread::sleep_for(milliseconds(20));
  if (!assigned.load()) {
    std::fprintf(stderr, "consumer got no assignment of %s\n", topic.c_str());
    std::exit(1);
  }

  std::vector<std::thread> producers;
  std::vector<producer_ctx> ctxs(static_cast<size_t>(o.producers), producer_ctx{&s, window_start, end});
  const int64_t real_start = std::max(start, now_ns());
  for (int p = 0; p < o.producers; ++p) {
    producers.emplace_back([&, p] {
      rd_kafka_conf_t* conf = make_conf(o, {{"acks", o.acks},
                                            {"linger.ms", std::to_string(o.linger_ms)},
                                            {"enable.idempotence", o.idempotence ? "true" : "false"},
                                            {"queue.buffering.max.kbytes", "65536"},
                                            {"queue.buffering.max.messages", "1000000"},
                                            {"batch.size", "1048576"}});
      rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
      if (o.client_stats) {
        char e[256];
        rd_kafka_conf_set(conf, "statistics.interval.ms", "1000", e, sizeof e);
        rd_kafka_conf_set_stats_cb(conf, on_stats);
      }
      rd_kafka_conf_set_opaque(conf, &ctxs[static_cast<size_t>(p)]);
      char perr[512];
      rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, perr, sizeof perr);
      if (!rk) {
        std::fprintf(stderr, "producer: %s\n", perr);
        std::exit(1);
      }
      rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
      // Delivery reports are served by a thread of their own, as soon as
      // librdkafka has them: served from the sending loop (between its sleeps)
      // they waited up to that loop's next wake-up, which the produce latency
      // then counted (at 1 MB/s: produce p50 4.2 ms against a broker round
      // trip of 0.75 ms and an end-to-end p50 of 2.4 ms).
      std::atomic<bool> sending{true};
      std::thread reports([&] {
        while (sending.load()) rd_kafka_poll(rk, 50);
      });
      std::string payload(o.message_size, 'x');
      const double per_sec = rate_mbs > 0 ? rate_mbs * 1e6 / static_cast<double>(o.message_size) / o.producers : 0;
      uint64_t n = 0;
      int32_t partition = p;
      for (;;) {
        int64_t sched;
        if (per_sec > 0) {
          sched = real_start + static_cast<int64_t>(static_cast<double>(n) * 1e9 / per_sec);
          if (sched >= end) break;
          // Sleep in steps of at least 0.5 ms and then send everything that
          // is due: a busy wait per message would burn a core the broker
          // under test shares. Latency still counts from `sched`.
          if (now_ns() < sched) {
            int64_t left = sched - now_ns();
            if (left > 0) std::this_thread::sleep_for(nanoseconds(std::max<int64_t>(left, 500'000)));
          }
        } else {
          sched = now_ns();
          if (sched >= end) break;
        }
        std::memcpy(payload.data(), &sched, 8);
        partition = (partition + 1) % o.partitions;
        while (rd_kafka_produce(rkt, partition, RD_KAFKA_MSG_F_COPY, payload.data(), payload.size(), nullptr, 0,
                                reinterpret_cast<void*>(static_cast<intptr_t>(sched))) != 0) {
          if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            std::fprintf(stderr, "produce: %s\n", rd_kafka_err2str(rd_kafka_last_error()));
            std::exit(1);
          }
          std::this_thread::sleep_for(microseconds(200));  // the queue drains as reports arrive
        }
        ++n;
      }
      sending = false;
      reports.join();
      rd_kafka_flush(rk, 60'000);
      rd_kafka_topic_destroy(rkt);
      rd_kafka_destroy(rk);
    });
  }
  for (auto& t : producers) t.join();
  // Let the consumer catch up with every acknowledged message (bounded wait).
  auto drain_until = steady_clock::now() + seconds(30);
  for (;;) {
    {
      std::lock_guard lk(s.mu);
      if (s.consumed_total >= s.acked_total) break;
    }
    if (steady_clock::now() > drain_until) break;
    std::this_thread::sleep_for(milliseconds(20));
  }
  stop_consumer = true;
  consumer_thread.join();
  rd_kafka_consumer_close(consumer);
  rd_kafka_destroy(consumer);

  load_result r;
  std::lock_guard lk(s.mu);
  const double secs = o.seconds;
  r.msgs = static_cast<double>(s.acked) / secs;
  r.mbs = r.msgs * static_cast<double>(o.message_size) / 1e6;
  r.produce = pct(s.produce);
  r.e2e = pct(s.e2e);
  r.failed = s.failed;
  r.missing = s.acked_total > s.consumed_total ? s.acked_total - s.consumed_total : 0;
  return r;
}

void json_line(const std::string& figure, const std::string& fields) {
  std::printf("{\"bench\":\"kafka\",\"figure\":\"%s\",%s}\n", figure.c_str(), fields.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  CLI::App app{"sluice-kafka-bench: Kafka produce/consume throughput and latency (librdkafka)"};
  app.add_option("--brokers", o.brokers, "bootstrap.servers");
  app.add_option("--partitions", o.partitions, "Partitions of each benchmark topic");
  app.add_option("--message-size", o.message_size, "Message value size in bytes (>= 8)");
  app.add_option("--rates", o.rates, "Offered loads in MB/s; 0 = as fast as the broker acknowledges")->delimiter(',');
  app.add_option("--seconds", o.seconds, "Measured time per load");
  app.add_option("--warmup", o.warmup, "Seconds not counted at the start of each load");
  app.add_option("--producers", o.producers, "Producer instances (threads)");
  app.add_option("--acks", o.acks, "acks: 0, 1 or all");
  app.add_option("--linger-ms", o.linger_ms, "linger.ms of the producers");
  app.add_flag("--idempotence", o.idempotence, "enable.idempotence=true");
  app.add_flag("--client-stats", o.client_stats,
               "Print librdkafka's statistics (broker rtt, queue latencies, requests) every second");
  app.add_option("--device-dir", o.device_dir, "Measure the disk of this folder (the broker's data) first");
  CLI11_PARSE(app, argc, argv);
  if (o.message_size < 8 || o.partitions < 1 || o.producers < 1 || o.seconds <= 0) {
    std::fprintf(stderr, "sluice-kafka-bench: --message-size >= 8, --partitions/--producers >= 1, --seconds > 0\n");
    return 2;
  }
  if (!o.device_dir.empty()) {
    auto fs = sluice::bench::device_fsync(o.device_dir, 2000);
    double seq = sluice::bench::device_seq_write(o.device_dir, 1ull << 30);
    sluice::bench::device_settle(o.device_dir, fs.p99);
    std::printf("device: fdatasync 4 KiB p50 %.3f ms p99 %.3f ms; sequential write %.0f MB/s\n", fs.p50, fs.p99,
                seq);
    json_line("device", fmt::format("\"fsync_p50_ms\":{:.3f},\"fsync_p99_ms\":{:.3f},\"seq_write_mbs\":{:.0f}",
                                    fs.p50, fs.p99, seq));
  }
  std::printf("\nacks=%s, %zu-byte messages, %d partitions, %d producers, %.0f s per load (+%.0f s warm-up)\n",
              o.acks.c_str(), o.message_size, o.partitions, o.producers, o.seconds, o.warmup);
  std::printf("%10s %10s %10s | %-26s | %-26s | %s\n", "offered", "MB/s", "msgs/s", "produce p50/p99/p999 ms",
              "end-to-end p50/p99/p999 ms", "failed/missing");
  int index = 0;
  for (double rate : o.rates) {
    auto r = run_load(o, rate, index++);
    std::printf("%10s %10.1f %10.0f | %7.2f %8.2f %9.2f | %7.2f %8.2f %9.2f | %llu/%llu\n",
                rate > 0 ? fmt::format("{:.0f} MB/s", rate).c_str() : "max", r.mbs, r.msgs, r.produce.p50,
                r.produce.p99, r.produce.p999, r.e2e.p50, r.e2e.p99, r.e2e.p999,
                static_cast<unsigned long long>(r.failed), static_cast<unsigned long long>(r.missing));
    json_line("load",
              fmt::format("\"offered_mbs\":{},\"mbs\":{:.1f},\"msgs_per_s\":{:.0f},\"produce_p50_ms\":{:.3f},"
                          "\"produce_p99_ms\":{:.3f},\"produce_p999_ms\":{:.3f},\"e2e_p50_ms\":{:.3f},"
                          "\"e2e_p99_ms\":{:.3f},\"e2e_p999_ms\":{:.3f},\"failed\":{},\"missing\":{},"
                          "\"acks\":\"{}\",\"message_size\":{},\"partitions\":{},\"producers\":{}",
                          rate, r.mbs, r.msgs, r.produce.p50, r.produce.p99, r.produce.p999, r.e2e.p50, r.e2e.p99,
                          r.e2e.p999, r.failed, r.missing, o.acks, o.message_size, o.partitions, o.producers));
    std::fflush(stdout);
  }
  return 0;
}
