#pragma once
// Topics and their partitions. Each partition is one stream of the stream
// engine; the topic table (name, id, partitions -> stream ids, configs) is kept
// in the metadata store's KV space under "kafka/topics/<name>", written
// durably before a CreateTopics/CreatePartitions/AlterConfigs answer.
#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "base/errc.h"
#include "base/result.h"
#include "stream/engine.h"

namespace sluice::kafka::topic_error {
enum class errc {
  unknown_topic = 1,
  topic_exists,
  invalid_topic,
  invalid_partitions,
  invalid_replication_factor,
  invalid_config,
  policy_violation,
  storage,
};
const std::error_category& category();
inline std::error_code make_error_code(errc e) {
  return {static_cast<int>(e), category()};
}
}  // namespace sluice::kafka::topic_error

SLUICE_ERRC_ENUM(sluice::kafka::topic_error::errc)

namespace sluice::kafka {

using topic_errc = topic_error::errc;

using topic_uuid = std::array<uint8_t, 16>;

struct partition_info {
  int32_t index = 0;
  stream::stream_id stream;
};

struct topic_info {
  std::string name;
  topic_uuid id{};
  std::vector<partition_info> partitions;
  std::map<std::string, std::string> configs;  // explicitly set (topic-level) configs only
  bool internal = false;
};

// Broker-wide defaults of topic configs (Kafka's broker keys).
struct topic_defaults {
  int32_t num_partitions = 1;
  bool auto_create = true;
  int64_t retention_ms = 604'800'000;
  int64_t retention_bytes = -1;
  int32_t max_message_bytes = 1'048'588;
  std::string cleanup_policy = "delete";
  std::string compression_type = "producer";
  std::string timestamp_type = "CreateTime";
};

// What Produce needs of a topic's configs.
struct produce_settings {
  int32_t max_message_bytes;
  bool log_append_time;  // message.timestamp.type=LogAppendTime
};

// One topic config as DescribeConfigs reports it.
struct config_entry {
  std::string name;
  std::string value;
  bool is_default = true;
  bool read_only = false;
  bool sensitive = false;
};

class topic_manager {
 public:
  topic_manager(stream::engine& engine, stream::meta::meta_store& meta, topic_defaults defaults);

  // Loads the topic table and opens every partition's stream.
  result<void> load();

  result<topic_info> create(const std::string& name, int32_t partitions, int16_t replication,
                            const std::map<std::string, std::string>& configs, bool validate_only = false);
  result<void> remove(const std::string& name);
  result<void> add_partitions(const std::string& name, int32_t total, bool validate_only = false);
  // Replaces (AlterConfigs) or edits (IncrementalAlterConfigs: value nullopt = delete) topic configs.
  result<void> set_configs(const std::string& name,
                           const std::map<std::string, std::optional<std::string>>& edits, bool replace,
                           bool validate_only = false);

  std::optional<topic_info> find(const std::string& name) const;
  std::optional<topic_info> find_by_id(const topic_uuid& id) const;
  std::vector<topic_info> list() const;
  // Stream of a partition, if the topic and partition exist.
  std::optional<stream::stream_id> stream_of(const std::string& topic, int32_t partition) const;

  // Every config of a topic with its effective value (topic-level or default).
  std::vector<config_entry> describe_configs(const topic_info& t) const;
  // Effective limits for Produce, from one lookup (defaults for an unknown topic).
  produce_settings produce_settings_of(const std::string& topic) const;
  const topic_defaults& defaults() const { return defaults_; }

  static bool valid_name(const std::string& name);

 private:
  result<void> save(const topic_info& t);
  result<void> validate_configs(const std::map<std::string, std::string>& configs) const;
  void apply_retention(const topic_info& t);
  std::string effective(const topic_info& t, const std::string& key) const;

  stream::engine& engine_;
  stream::meta::meta_store& meta_;
  topic_defaults defaults_;
  mutable std::shared_mutex mu_;
  std::mutex admin_mu_;  // one create/delete/alter at a time
  std::map<std::string, topic_info> topics_;
};

}  // namespace sluice::kafka
