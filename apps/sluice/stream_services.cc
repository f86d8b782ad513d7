#include "apps/sluice/stream_services.h"

#include <spdlog/spdlog.h>

#include "base/byte_arena.h"
#include "base/fs.h"
#include "base/thread.h"
#include "kafka/broker/broker.h"
#include "kafka/broker/frame_server.h"
#include "objstore/object_layer.h"
#include "s3client/s3_object_storage.h"
#include "s3client/s3url.h"

namespace sluice::app {

namespace {

// "PLAINTEXT://host:port[,...]" -> host, port of the first PLAINTEXT listener.
result<std::pair<std::string, uint16_t>> parse_listener(const std::string& key, const std::string& text) {
  std::string first = text.substr(0, text.find(','));
  std::string rest = first;
  if (auto p = first.find("://"); p != std::string::npos) {
    std::string proto = first.substr(0, p);
    if (proto != "PLAINTEXT") {
      return fail(config::errc::bad_value,
                  key + ": only PLAINTEXT listeners are supported so far, got " + proto);
    }
    rest = first.substr(p + 3);
  }
  auto colon = rest.rfind(':');
  if (colon == std::string::npos)
    return fail(config::errc::bad_value, key + ": expected host:port, got '" + text + "'");
  std::string host = rest.substr(0, colon);
  char* end = nullptr;
  long port = std::strtol(rest.c_str() + colon + 1, &end, 10);
  if (*end || port < 0 || port > 65535)
    return fail(config::errc::bad_value, key + ": bad port in '" + text + "'");
  return std::pair{host, static_cast<uint16_t>(port)};
}

}  // namespace

void stream_services::stop() {
  if (warm_arena.joinable()) {
    warm_arena.request_stop();
    warm_arena.join();
  }
  if (server) server->stop();
  if (broker) broker->stop();
  if (engine) engine->close();
}

stream_services::~stream_services() {
  stop();
}

result<std::unique_ptr<stream_services>> start_stream_services(const config::settings& cfg,
                                                               objstore::object_layer& store,
                                                               const std::string& first_drive,
                                                               const std::string& deployment_id,
                                                               const std::string& owner) {
  auto svc = std::make_unique<stream_services>();
  auto num = [&](const char* key) -> result<int64_t> { return cfg.get_int(key); };
  auto bytes = [&](const char* key) -> result<uint64_t> { return cfg.get_bytes(key); };
  auto millis = [&](const char* key) -> result<std::chrono::milliseconds> { return cfg.get_ms(key); };

  std::string sys = fs::join(first_drive, ".sluice.sys/stream");
  SLUICE_TRY(fs::mkdirs(sys));
  std::string meta_path = cfg.get("s3.stream.meta.path");
  if (meta_path.empty()) meta_path = fs::join(sys, "meta.db");
  SLUICE_TRY(svc->meta, stream::meta::open_sqlite(meta_path));

  std::string cluster_id = cfg.get("cluster.id");
  std::string url = cfg.get("s3.url");
  if (!url.empty()) {
    SLUICE_TRY(auto u, s3client::parse_s3url(url));
    SLUICE_TRY(auto cc, s3client::to_client_config(u));
    SLUICE_TRY(svc->storage, s3client::make_s3_storage(cc, u.data_bucket));
    if (cluster_id.empty()) cluster_id = u.cluster_id;
  } else {
    SLUICE_TRY(svc->storage, stream::make_local_storage(store, cfg.get("s3.stream.bucket"), owner));
  }
  if (cluster_id.empty()) cluster_id = deployment_id.empty() ? "sluice" : deployment_id;

  stream::engine_options eo;
  SLUICE_TRY(auto node, num("node.id"));
  eo.node = stream::node_id(static_cast<uint32_t>(node));
  eo.cluster_id = cluster_id;
  SLUICE_TRY(eo.log_cache_bytes, bytes("s3.wal.cache.size"));
  SLUICE_TRY(eo.block_cache_bytes, bytes("s3.block.cache.size"));
  SLUICE_TRY(eo.upload_bytes, bytes("s3.wal.upload.threshold"));
  SLUICE_TRY(eo.upload_interval, millis("s3.wal.upload.interval.ms"));
  SLUICE_TRY(auto pace, num("s3.wal.upload.pace"));
  if (pace < 0 || pace > 1000) return fail(config::errc::bad_value, "s3.wal.upload.pace: expected 0 to 1000");
  eo.upload_pace = static_cast<uint32_t>(pace);
  SLUICE_TRY(eo.upload_pace_min_bytes, bytes("s3.wal.upload.pace.min"));
  SLUICE_TRY(eo.stream_split_bytes, bytes("s3.stream.object.split.size"));
  SLUICE_TRY(eo.object_block_bytes, bytes("s3.object.block.size"));
  SLUICE_TRY(eo.part_bytes, bytes("s3.object.part.size"));
  SLUICE_TRY(eo.janitor_interval, millis("s3.stream.compaction.interval.ms"));
  SLUICE_TRY(eo.delete_grace, millis("s3.object.delete.retention.ms"));
  SLUICE_TRY(auto max_message, num("message.max.bytes"));
  eo.wal.max_record_bytes =
      std::max<size_t>(eo.wal.max_record_bytes, static_cast<size_t>(max_message) + 4096);
  std::string wal_path = cfg.get("s3.wal.path");
  if (wal_path.empty()) wal_path = fs::join(sys, "wal");
  SLUICE_TRY(auto capacity, bytes("s3.wal.capacity"));
  SLUICE_TRY(auto dev, stream::wal::open_file_device(wal_path, capacity, true));
  SLUICE_TRY(svc->engine, stream::open_engine(eo, std::move(dev), *svc->meta, *svc->storage));
  svc->warm_arena = std::jthread([bytes = eo.log_cache_bytes](std::stop_token stop) {
    set_thread_name("arena-warm");
    lower_thread_priority();
    byte_arena::keep_ready(byte_arena::kReadyChunks, bytes, stop);
  });

  SLUICE_TRY(auto listen, parse_listener("listeners", cfg.get("listeners")));
  std::string adv_text = cfg.get("advertised.listeners");
  std::pair<std::string, uint16_t> adv = listen;
  if (!adv_text.empty()) {
    SLUICE_TRY(adv, parse_listener("advertised.listeners", adv_text));
  }

  kafka::frame_server_options fo;
  fo.address = (listen.first.empty() ? "0.0.0.0" : listen.first) + ":" + std::to_string(listen.second);
  SLUICE_TRY(auto max_frame, bytes("socket.request.max.bytes"));
  fo.max_frame_bytes = max_frame;
  SLUICE_TRY(fo.idle_timeout, millis("connections.max.idle.ms"));

  kafka::broker_options bo;
  bo.node_id = static_cast<int32_t>(node);
  bo.cluster_id = cluster_id;
  SLUICE_TRY(auto parts, num("num.partitions"));
  bo.topics.num_partitions = static_cast<int32_t>(parts);
  SLUICE_TRY(bo.topics.auto_create, cfg.get_bool("auto.create.topics.enable"));
  SLUICE_TRY(bo.topics.retention_ms, num("log.retention.ms"));
  SLUICE_TRY(bo.topics.retention_bytes, num("log.retention.bytes"));
  bo.topics.max_message_bytes = static_cast<int32_t>(max_message);
  SLUICE_TRY(bo.groups.initial_rebalance_delay, millis("group.initial.rebalance.delay.ms"));
  SLUICE_TRY(bo.groups.min_session_timeout, millis("group.min.session.timeout.ms"));
  SLUICE_TRY(bo.groups.max_session_timeout, millis("group.max.session.timeout.ms"));
  SLUICE_TRY(auto retention_min, num("offsets.retention.minutes"));
  bo.groups.offsets_retention = std::chrono::minutes(retention_min);
  SLUICE_TRY(auto b, kafka::broker::open(bo, *svc->engine, *svc->meta));
  svc->broker = std::shared_ptr<kafka::broker>(std::move(b));
  svc->server = std::make_unique<kafka::frame_server>(fo, svc->broker);
  SLUICE_TRY(svc->server->start());
  // Advertise the port actually bound (listeners may say :0 in tests).
  uint16_t port = adv_text.empty() ? svc->server->port() : adv.second;
  std::string host = adv.first;
  if (host.empty() || host == "0.0.0.0" || host == "::" || host == "[::]") host = "localhost";
  svc->broker->set_advertised(host, port);
  svc->kafka_address = host + ":" + std::to_string(port);
  svc->storage_description = svc->storage->describe();
  return svc;
}

}  // namespace sluice::app
