#include "kafka/broker/topics.h"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <charconv>
#include <cstring>
#include <set>

#include "base/crypto.h"
#include "base/encoding.h"

SLUICE_ERRC_CATEGORY(sluice::kafka::topic_error, "kafka-topic", case errc::unknown_topic
                     : return "unknown topic";
                     case errc::topic_exists
                     : return "topic already exists";
                     case errc::invalid_topic
                     : return "invalid topic name";
                     case errc::invalid_partitions
                     : return "invalid number of partitions";
                     case errc::invalid_replication_factor
                     : return "invalid replication factor";
                     case errc::invalid_config
                     : return "invalid config";
                     case errc::policy_violation
                     : return "policy violation";
                     case errc::storage
                     : return "storage error";)

namespace sluice::kafka {

namespace json = boost::json;

namespace {

constexpr int32_t max_partitions = 10'000;
const std::string key_prefix = "kafka/topics/";

enum class kind { number, int32, boolean, string, policy, ratio };  // number: Kafka's LONG, int32: its INT
struct known_config {
  const char* name;
  kind type;
  const char* fallback;  // default when not a broker default we model
};

// Topic configs Kafka clients set or describe. Values are validated by type;
// those Sluice does not act on are kept and reported (segments, flushes and
// replica settings have no meaning on a log in object storage).
const known_config known[] = {
    {"cleanup.policy", kind::policy, nullptr},
    {"compression.type", kind::string, nullptr},
    {"delete.retention.ms", kind::number, "86400000"},
    {"file.delete.delay.ms", kind::number, "60000"},
    {"flush.messages", kind::number, "9223372036854775807"},
    {"flush.ms", kind::number, "9223372036854775807"},
    {"index.interval.bytes", kind::int32, "4096"},
    {"local.retention.bytes", kind::number, "-2"},
    {"local.retention.ms", kind::number, "-2"},
    {"max.compaction.lag.ms", kind::number, "9223372036854775807"},
    {"max.message.bytes", kind::int32, nullptr},
    {"message.downconversion.enable", kind::boolean, "true"},
    {"message.timestamp.difference.max.ms", kind::number, "9223372036854775807"},
    {"message.timestamp.type", kind::string, nullptr},
    {"min.cleanable.dirty.ratio", kind::ratio, "0.5"},
    {"min.compaction.lag.ms", kind::number, "0"},
    {"min.insync.replicas", kind::int32, "1"},
    {"preallocate", kind::boolean, "false"},
    {"retention.bytes", kind::number, nullptr},
    {"retention.ms", kind::number, nullptr},
    {"segment.bytes", kind::int32, "1073741824"},
    {"segment.index.bytes", kind::int32, "10485760"},
    {"segment.jitter.ms", kind::number, "0"},
    {"segment.ms", kind::number, "604800000"},
    {"unclean.leader.election.enable", kind::boolean, "false"},
};

const known_config* find_known(const std::string& name) {
  for (const auto& k : known) {
    if (name == k.name) return &k;
  }
  return nullptr;
}

std::optional<int64_t> parse_i64(const std::string& s) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::string uuid_text(const topic_uuid& id) {
  return to_hex(std::span<const unsigned char>(id.data(), id.size()));
}

json::value to_json(const topic_info& t) {
  json::array parts;
  for (const auto& p : t.partitions)
    parts.push_back(json::object{{"index", p.index}, {"stream", p.stream.value()}});
  json::object cfg;
  for (const auto& [k, v] : t.configs) cfg[k] = v;
  return json::object{{"name", t.name},
                      {"id", uuid_text(t.id)},
                      {"partitions", std::move(parts)},
                      {"configs", std::move(cfg)},
                      {"internal", t.internal}};
}

result<topic_info> from_json(std::string_view text) {
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  if (ec || !v.is_object()) return fail(topic_errc::storage, "topic record is not JSON");
  try {
    topic_info t;
    const auto& o = v.as_object();
    t.name = json::value_to<std::string>(o.at("name"));
    auto id = from_hex(json::value_to<std::string>(o.at("id")));
    if (!id || id->size() != 16) return fail(topic_errc::storage, "topic record: bad id");
    std::memcpy(t.id.data(), id->data(), 16);
    for (const auto& p : o.at("partitions").as_array()) {
      t.partitions.push_back(partition_info{static_cast<int32_t>(p.at("index").to_number<int64_t>()),
                                            stream::stream_id(p.at("stream").to_number<uint64_t>())});
    }
    for (const auto& [k, val] : o.at("configs").as_object())
      t.configs[std::string(k)] = json::value_to<std::string>(val);
    if (auto it = o.find("internal"); it != o.end()) t.internal = it->value().as_bool();
    return t;
  } catch (const std::exception& e) {
    return fail(topic_errc::storage, std::string("topic record: ") + e.what());
  }
}

}  // namespace

topic_manager::topic_manager(stream::engine& engine, stream::meta::meta_store& meta, topic_defaults defaults)
    : engine_(engine), meta_(meta), defaults_(std::move(defaults)) {}

bool topic_manager::valid_name(const std::string& name) {
  if (name.empty() || name.size() > 249 || name == "." || name == "..") return false;
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) return false;
  }
  return true;
}

result<void> topic_manager::load() {
  SLUICE_TRY(auto rows, meta_.scan(key_prefix));
  std::map<std::string, topic_info> loaded;
  std::set<uint64_t> referenced;
  for (const auto& [k, v] : rows) {
    auto t = from_json(v);
    if (!t) {
      spdlog::error("kafka: topic record {}: {}", k, t.error().message());
      continue;
    }
    for (const auto& p : t.value().partitions) {
      referenced.insert(p.stream.value());
      auto st = engine_.open_stream(p.stream);
      if (!st) {
        return fail(topic_errc::storage,
                    fmt::format("topic {} partition {}: cannot open stream {}: {}", t.value().name, p.index,
                                p.stream.value(), st.error().message()));
      }
    }
    loaded[t.value().name] = std::move(t).value();
  }
  // Streams created for a topic whose record was never written (a crash in
  // the middle of CreateTopics) are removed.
  SLUICE_TRY(auto streams, meta_.list_streams());
  for (const auto& s : streams) {
    if (s.tags.contains("topic") && !referenced.contains(s.id.value())) {
      spdlog::info("kafka: removing stream {} of an unfinished topic creation ({})", s.id.value(),
                   s.tags.at("topic"));
      if (auto r = engine_.delete_stream(s.id); !r) spdlog::warn("kafka: {}", r.error().message());
    }
  }
  {
    std::unique_lock lk(mu_);
    topics_ = std::move(loaded);
  }
  for (const auto& t : list()) apply_retention(t);
  return ok();
}

result<void> topic_manager::validate_configs(const std::map<std::string, std::string>& configs) const {
  for (const auto& [k, v] : configs) {
    const auto* known_key = find_known(k);
    if (!known_key) return fail(topic_errc::invalid_config, fmt::format("Unknown topic config name: {}", k));
    switch (known_key->type) {
      case kind::number:
        if (!parse_i64(v))
          return fail(topic_errc::invalid_config,
                      fmt::format("Invalid value {} for configuration {}: Not a number of type LONG", v, k));
        break;
      case kind::int32:
        if (auto n = parse_i64(v); !n || *n < INT32_MIN || *n > INT32_MAX)
          return fail(topic_errc::invalid_config,
                      fmt::format("Invalid value {} for configuration {}: Not a number of type INT", v, k));
        break;
      case kind::boolean:
        if (v != "true" && v != "false") {
          return fail(topic_errc::invalid_config,
                      fmt::format("Invalid value {} for configuration {}: Expected true or false", v, k));
        }
        break;
      case kind::ratio: {
        char* end = nullptr;
        double d = std::strtod(v.c_str(), &end);
        if (end != v.c_str() + v.size() || d < 0 || d > 1) {
          return fail(topic_errc::invalid_config, fmt::format("Invalid value {} for configuration {}", v, k));
        }
        break;
      }
      case kind::policy:
        if (v == "compact" || v == "compact,delete" || v == "delete,compact") {
          return fail(topic_errc::invalid_config,
                      "cleanup.policy=compact is not supported by Sluice yet (compacted topics are planned)");
        }
        if (v != "delete")
          return fail(topic_errc::invalid_config,
                      fmt::format("Invalid value {} for configuration cleanup.policy", v));
        break;
      case kind::string:
        if (k == "compression.type" && v != "producer" && v != "uncompressed" && v != "gzip" &&
            v != "snappy" && v != "lz4" && v != "zstd") {
          return fail(topic_errc::invalid_config,
                      fmt::format("Invalid value {} for configuration compression.type", v));
        }
        if (k == "message.timestamp.type" && v != "CreateTime" && v != "LogAppendTime") {
          return fail(topic_errc::invalid_config,
                      fmt::format("Invalid value {} for configuration message.timestamp.type", v));
        }
        break;
    }
  }
  if (auto it = configs.find("retention.ms"); it != configs.end() && parse_i64(it->second).value_or(0) < -1) {
    return fail(topic_errc::invalid_config,
                fmt::format("Invalid value {} for configuration retention.ms: Value must be at least -1",
                            it->second));
  }
  if (auto it = configs.find("max.message.bytes");
      it != configs.end() && parse_i64(it->second).value_or(0) < 0) {
    return fail(topic_errc::invalid_config, "max.message.bytes must be at least 0");
  }
  return ok();
}

result<topic_info> topic_manager::create(const std::string& name, int32_t partitions, int16_t replication,
                                         const std::map<std::string, std::string>& configs,
                                         bool validate_only) {
  if (!valid_name(name)) {
    return fail(
        topic_errc::invalid_topic,
        fmt::format("Topic name \"{}\" is illegal: use 1-249 of [a-zA-Z0-9._-], not '.' or '..'", name));
  }
  if (partitions == -1) partitions = defaults_.num_partitions;
  if (partitions <= 0 || partitions > max_partitions) {
    return fail(topic_errc::invalid_partitions,
                fmt::format("Number of partitions must be 1..{}", max_partitions));
  }
  if (replication != -1 && replication != 1) {
    return fail(
        topic_errc::invalid_replication_factor,
        fmt::format("Replication factor {} is larger than the number of brokers (1); data is made durable by "
                    "the object store instead",
                    replication));
  }
  SLUICE_TRY(validate_configs(configs));
  std::lock_guard admin(admin_mu_);
  if (find(name)) return fail(topic_errc::topic_exists, fmt::format("Topic '{}' already exists.", name));
  topic_info t;
  t.name = name;
  t.configs = configs;
  t.internal = name.starts_with("__");
  auto id = random_bytes(16);
  std::memcpy(t.id.data(), id.data(), 16);
  if (validate_only) {
    for (int32_t i = 0; i < partitions; ++i) t.partitions.push_back(partition_info{i, stream::stream_id(0)});
    return t;
  }
  for (int32_t i = 0; i < partitions; ++i) {
    SLUICE_TRY(auto st, engine_.create_stream({{"topic", name}, {"partition", std::to_string(i)}}));
    SLUICE_TRY(engine_.open_stream(st.id));
    t.partitions.push_back(partition_info{i, st.id});
  }
  SLUICE_TRY(save(t));
  {
    std::unique_lock lk(mu_);
    topics_[name] = t;
  }
  apply_retention(t);
  spdlog::info("kafka: created topic {} with {} partitions", name, partitions);
  return t;
}

result<void> topic_manager::remove(const std::string& name) {
  std::lock_guard admin(admin_mu_);
  auto t = find(name);
  if (!t) return fail(topic_errc::unknown_topic, "This server does not host this topic-partition.");
  // The record goes first: a crash after it leaves orphan streams, removed at the next load.
  SLUICE_TRY(meta_.erase(key_prefix + name));
  {
    std::unique_lock lk(mu_);
    topics_.erase(name);
  }
  for (const auto& p : t->partitions) {
    if (auto r = engine_.delete_stream(p.stream); !r)
      spdlog::warn("kafka: deleting topic {}: {}", name, r.error().message());
  }
  spdlog::info("kafka: deleted topic {}", name);
  return ok();
}

result<void> topic_manager::add_partitions(const std::string& name, int32_t total, bool validate_only) {
  std::lock_guard admin(admin_mu_);
  auto t = find(name);
  if (!t) return fail(topic_errc::unknown_topic, "This server does not host this topic-partition.");
  int32_t have = static_cast<int32_t>(t->partitions.size());
  if (total <= have) {
    return fail(topic_errc::invalid_partitions,
                fmt::format("Topic currently has {} partitions, which is higher than the requested {}.", have,
                            total));
  }
  if (total > max_partitions)
    return fail(topic_errc::invalid_partitions, fmt::format("At most {} partitions", max_partitions));
  if (validate_only) return ok();
  for (int32_t i = have; i < total; ++i) {
    SLUICE_TRY(auto st, engine_.create_stream({{"topic", name}, {"partition", std::to_string(i)}}));
    SLUICE_TRY(engine_.open_stream(st.id));
    t->partitions.push_back(partition_info{i, st.id});
  }
  SLUICE_TRY(save(*t));
  std::unique_lock lk(mu_);
  topics_[name] = *t;
  return ok();
}

result<void> topic_manager::set_configs(const std::string& name,
                                        const std::map<std::string, std::optional<std::string>>& edits,
                                        bool replace, bool validate_only) {
  std::lock_guard admin(admin_mu_);
  auto t = find(name);
  if (!t) return fail(topic_errc::unknown_topic, "This server does not host this topic-partition.");
  std::map<std::string, std::string> next = replace ? std::map<std::string, std::string>{} : t->configs;
  for (const auto& [k, v] : edits) {
    if (v) {
      next[k] = *v;
    } else {
      if (!find_known(k))
        return fail(topic_errc::invalid_config, fmt::format("Unknown topic config name: {}", k));
      next.erase(k);
    }
  }
  SLUICE_TRY(validate_configs(next));
  if (validate_only) return ok();
  t->configs = std::move(next);
  SLUICE_TRY(save(*t));
  {
    std::unique_lock lk(mu_);
    topics_[name] = *t;
  }
  apply_retention(*t);
  return ok();
}

result<void> topic_manager::save(const topic_info& t) {
  auto r = meta_.put(key_prefix + t.name, json::serialize(to_json(t)));
  if (!r) return fail(topic_errc::storage, r.error().message());
  return ok();
}

std::optional<topic_info> topic_manager::find(const std::string& name) const {
  std::shared_lock lk(mu_);
  auto it = topics_.find(name);
  if (it == topics_.end()) return std::nullopt;
  return it->second;
}

std::optional<topic_info> topic_manager::find_by_id(const topic_uuid& id) const {
  std::shared_lock lk(mu_);
  for (const auto& [n, t] : topics_) {
    if (t.id == id) return t;
  }
  return std::nullopt;
}

std::vector<topic_info> topic_manager::list() const {
  std::shared_lock lk(mu_);
  std::vector<topic_info> out;
  for (const auto& [n, t] : topics_) out.push_back(t);
  return out;
}

std::optional<stream::stream_id> topic_manager::stream_of(const std::string& topic, int32_t partition) const {
  std::shared_lock lk(mu_);
  auto it = topics_.find(topic);
  if (it == topics_.end() || partition < 0 ||
      partition >= static_cast<int32_t>(it->second.partitions.size())) {
    return std::nullopt;
  }
  return it->second.partitions[partition].stream;
}

std::string topic_manager::effective(const topic_info& t, const std::string& key) const {
  if (auto it = t.configs.find(key); it != t.configs.end()) return it->second;
  if (key == "retention.ms") return std::to_string(defaults_.retention_ms);
  if (key == "retention.bytes") return std::to_string(defaults_.retention_bytes);
  if (key == "max.message.bytes") return std::to_string(defaults_.max_message_bytes);
  if (key == "cleanup.policy") return defaults_.cleanup_policy;
  if (key == "compression.type") return defaults_.compression_type;
  if (key == "message.timestamp.type") return defaults_.timestamp_type;
  if (const auto* k = find_known(key); k && k->fallback) return k->fallback;
  return {};
}

std::vector<config_entry> topic_manager::describe_configs(const topic_info& t) const {
  std::vector<config_entry> out;
  for (const auto& k : known) {
    config_entry e;
    e.name = k.name;
    e.value = effective(t, k.name);
    e.is_default = !t.configs.contains(k.name);
    out.push_back(std::move(e));
  }
  return out;
}

produce_settings topic_manager::produce_settings_of(const std::string& topic) const {
  produce_settings out{defaults_.max_message_bytes, defaults_.timestamp_type == "LogAppendTime"};
  std::shared_lock lk(mu_);
  auto it = topics_.find(topic);
  if (it == topics_.end()) return out;
  out.max_message_bytes = static_cast<int32_t>(
      parse_i64(effective(it->second, "max.message.bytes")).value_or(defaults_.max_message_bytes));
  out.log_append_time = effective(it->second, "message.timestamp.type") == "LogAppendTime";
  return out;
}

void topic_manager::apply_retention(const topic_info& t) {
  stream::retention_policy p;
  int64_t ms = parse_i64(effective(t, "retention.ms")).value_or(-1);
  int64_t bytes = parse_i64(effective(t, "retention.bytes")).value_or(-1);
  if (ms >= 0) p.time = std::chrono::milliseconds(ms);
  if (bytes >= 0) p.bytes = static_cast<uint64_t>(bytes);
  for (const auto& part : t.partitions) engine_.set_retention(part.stream, p);
}

}  // namespace sluice::kafka
