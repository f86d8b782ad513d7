#pragma once
// The Kafka broker: decodes request frames, dispatches them to one handler
// per API key (each declaring the versions it serves), and encodes the
// responses. Topics live in the stream engine (one stream per partition);
// consumer groups in the group coordinator. One registry answers ApiVersions
// from the handlers' version ranges.
//
// Error translation: each handler turns failures into Kafka error codes in its
// response; module errors (stream::errc, topic_errc, group::errc) map to wire
// codes in exactly one place, errors.cc (to_kafka_error).
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "kafka/broker/frame_server.h"
#include "kafka/broker/producers.h"
#include "kafka/broker/topics.h"
#include "kafka/group/group_coordinator.h"
#include "kafka/protocol/api_table.h"
#include "kafka/protocol/errors.h"
#include "kafka/protocol/header.h"
#include "kafka/protocol/wire.h"
#include "stream/engine.h"

namespace sluice::kafka {

struct broker_options {
  int32_t node_id = 1;
  std::string advertised_host = "localhost";
  int32_t advertised_port = 9092;
  std::string cluster_id = "sluice";
  topic_defaults topics;
  group::coordinator_options groups;
  // Longest fetch long-poll honoured (a client's max_wait_ms is capped to it).
  std::chrono::milliseconds max_fetch_wait{30'000};
  // Bytes of one fetch response at most (fetch.max.bytes, Kafka's default 55 MiB).
  size_t fetch_max_bytes = 55 << 20;
  // Tail of each partition scanned at start to rebuild idempotent-producer state.
  size_t producer_scan_bytes = 16 << 20;
};

class broker;

// What a handler gets for one request.
struct request_context {
  broker& b;
  const connection_info& conn;
  protocol::request_header header;
  std::string frame;  // owns the bytes the body views point into
  size_t body_offset = 0;
  responder respond;

  int16_t version() const { return header.api_version; }
  protocol::reader body() const;
  // Encodes header + response at the request's version and sends it.
  template <class Response>
  void reply(const Response& r) const;
  void reply_bytes(std::string body_bytes) const;
  void no_reply() const { respond(std::nullopt); }
  void close() const { respond(std::nullopt, true); }
};

// Per-partition state the broker keeps beside the stream.
struct partition_state {
  std::mutex append_mu;  // orders producer checks and appends of this partition
  producer_table producers;
  bool producers_loaded = false;
};

// Translates a module error to the Kafka error code clients expect.
protocol::error_code to_kafka_error(const error& e);

class broker final : public frame_handler {
 public:
  static result<std::unique_ptr<broker>> open(broker_options opts, stream::engine& engine,
                                              stream::meta::meta_store& meta);
  ~broker() override;

  void handle(const connection_info& conn, std::string frame, responder respond) override;
  void stop();
  // The address clients are told (known only once the listener is bound). Call before serving.
  void set_advertised(std::string host, int32_t port) {
    opts_.advertised_host = std::move(host);
    opts_.advertised_port = port;
  }

  // For handlers.
  const broker_options& options() const { return opts_; }
  stream::engine& engine() { return engine_; }
  stream::meta::meta_store& meta() { return meta_; }
  topic_manager& topics() { return *topics_; }
  group::group_coordinator& groups() { return *groups_; }
  std::shared_ptr<partition_state> partition(stream::stream_id id);
  // Allocates a producer id (durable before it is returned).
  result<int64_t> next_producer_id();

  // In-process produce, for Sluice's own producers (the built-in bucket
  // notification target): appends `records` to `topic`, auto-creating it with
  // the defaults when missing (even with auto.create.topics.enable off: the
  // caller was configured to use it), each record to the partition of its key
  // as Kafka's default partitioner picks it (murmur2), records of one
  // partition as one batch in the given order. Returns once every batch is
  // durable, as acks=all, or the first error (some partitions may then have
  // been written: the caller retries, consumers see a duplicate).
  struct local_record {
    std::string key;
    std::string value;
    std::vector<std::pair<std::string, std::string>> headers;
  };
  result<void> produce_local(const std::string& topic, std::span<const local_record> records);

  // Fetch long-poll. A handler reads append_seq(), tries to answer, and when
  // it has too little data parks `attempt`: it runs again on a fetch thread
  // when one of `streams` gets data (or if any did since seen_seq), and at
  // `deadline` with final = true (then it must answer). It returns true once
  // it has answered.
  uint64_t append_seq() {
    std::lock_guard lk(fetch_mu_);
    return append_seq_;
  }
  void park_fetch(std::vector<stream::stream_id> streams, uint64_t seen_seq,
                  std::chrono::steady_clock::time_point deadline, std::function<bool(bool final)> attempt);

  struct api_entry {
    int16_t key;
    int16_t min_version;
    int16_t max_version;
    void (*fn)(request_context&);
  };
  static const std::vector<api_entry>& registry();

 private:
  broker(broker_options opts, stream::engine& engine, stream::meta::meta_store& meta);
  // An append to `id` became durable: marks the parked fetches that wait for
  // it; true when any was marked (then wake_fetches() must follow).
  bool on_append(stream::stream_id id);
  void wake_fetches();
  void fetch_loop();

  broker_options opts_;
  stream::engine& engine_;
  stream::meta::meta_store& meta_;
  std::unique_ptr<topic_manager> topics_;
  std::unique_ptr<group::group_coordinator> groups_;

  std::mutex partitions_mu_;
  std::unordered_map<stream::stream_id, std::shared_ptr<partition_state>> partitions_;

  std::mutex pid_mu_;
  int64_t pid_next_ = 0, pid_limit_ = 0;

  struct parked_fetch {
    std::vector<stream::stream_id> streams;
    std::chrono::steady_clock::time_point deadline;
    std::function<bool(bool)> attempt;
    bool woken = false;
  };
  struct append_hook {
    std::mutex mu;
    broker* target = nullptr;
  };
  std::shared_ptr<append_hook> hook_;  // engine listener -> this broker, cut by stop()
  std::mutex fetch_mu_;
  std::condition_variable fetch_cv_;
  uint64_t append_seq_ = 0;
  std::vector<std::shared_ptr<parked_fetch>> parked_;
  std::vector<std::thread> fetch_threads_;
  std::atomic<bool> stopping_{false};
};

// ----------------------------------------------------------------------------

inline protocol::reader request_context::body() const {
  return protocol::reader(std::string_view(frame).substr(body_offset));
}

template <class Response>
void request_context::reply(const Response& r) const {
  protocol::writer w;
  protocol::write_response_header(w, header.correlation_id,
                                  protocol::response_header_version(header.api_key, header.api_version));
  r.write(w, header.api_version);
  respond(w.take());
}

inline void request_context::reply_bytes(std::string body_bytes) const {
  respond(std::move(body_bytes));
}

// Handlers, one per API key (handlers_*.cc).
void handle_api_versions(request_context& c);
void handle_metadata(request_context& c);
void handle_produce(request_context& c);
void handle_fetch(request_context& c);
void handle_list_offsets(request_context& c);
void handle_offset_for_leader_epoch(request_context& c);
void handle_init_producer_id(request_context& c);
void handle_find_coordinator(request_context& c);
void handle_join_group(request_context& c);
void handle_sync_group(request_context& c);
void handle_heartbeat(request_context& c);
void handle_leave_group(request_context& c);
void handle_offset_commit(request_context& c);
void handle_offset_fetch(request_context& c);
void handle_describe_groups(request_context& c);
void handle_list_groups(request_context& c);
void handle_delete_groups(request_context& c);
void handle_offset_delete(request_context& c);
void handle_create_topics(request_context& c);
void handle_delete_topics(request_context& c);
void handle_create_partitions(request_context& c);
void handle_describe_configs(request_context& c);
void handle_alter_configs(request_context& c);
void handle_incremental_alter_configs(request_context& c);
void handle_delete_records(request_context& c);
void handle_describe_cluster(request_context& c);
void handle_sasl_handshake(request_context& c);

}  // namespace sluice::kafka
