// Admin APIs: CreateTopics, DeleteTopics, CreatePartitions, DescribeConfigs,
// AlterConfigs, IncrementalAlterConfigs, DeleteRecords. Topic changes go
// through the topic manager (durable before it returns, so before the
// answer); module errors become wire codes only through to_kafka_error().
// Errors of the request itself (duplicates, nulls, unsupported resource
// types) are decided here, with Kafka's codes and messages.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <set>

#include "kafka/broker/broker.h"
#include "kafka/broker/internal/handler_util.h"
#include "kafka/protocol/messages/alter_configs.h"
#include "kafka/protocol/messages/create_partitions.h"
#include "kafka/protocol/messages/create_topics.h"
#include "kafka/protocol/messages/delete_records.h"
#include "kafka/protocol/messages/delete_topics.h"
#include "kafka/protocol/messages/describe_configs.h"
#include "kafka/protocol/messages/incremental_alter_configs.h"

namespace sluice::kafka {

using protocol::error_code;
namespace proto = protocol;

namespace {

using detail::code;
using detail::read_request;
using detail::reply_target;
using detail::to_uuid;

// A failure decided by a handler: a wire code and the message Kafka would send.
struct failure {
  error_code code = error_code::none;
  std::string message;
};

failure from(const error& e) {
  return {to_kafka_error(e), e.message()};
}

const std::string unknown_topic_message = "This server does not host this topic-partition.";

// DescribeConfigs resource types (Kafka's ConfigResource.Type).
constexpr int8_t resource_topic = 2;
constexpr int8_t resource_broker = 4;

// Config sources (DescribeConfigsResponse.ConfigSource).
constexpr int8_t source_dynamic_topic = 1;
constexpr int8_t source_static_broker = 4;
constexpr int8_t source_default = 5;

// Config types (DescribeConfigs v3+, ConfigDef.Type).
enum class config_type : int8_t {
  unknown = 0,
  boolean = 1,
  string = 2,
  int32 = 3,
  int64 = 5,
  ratio = 6,
  list = 7
};

// Per topic config: the broker config that supplies its default (Kafka's
// LogConfig synonyms, first one) and its type. Configs missing here are
// described with type UNKNOWN and no broker synonym.
struct topic_config_meta {
  const char* name;
  const char* broker_synonym;
  config_type type;
};
constexpr topic_config_meta topic_config_table[] = {
    {"cleanup.policy", "log.cleanup.policy", config_type::list},
    {"compression.type", "compression.type", config_type::string},
    {"delete.retention.ms", "log.cleaner.delete.retention.ms", config_type::int64},
    {"file.delete.delay.ms", "log.segment.delete.delay.ms", config_type::int64},
    {"flush.messages", "log.flush.interval.messages", config_type::int64},
    {"flush.ms", "log.flush.interval.ms", config_type::int64},
    {"index.interval.bytes", "log.index.interval.bytes", config_type::int32},
    {"local.retention.bytes", "log.local.retention.bytes", config_type::int64},
    {"local.retention.ms", "log.local.retention.ms", config_type::int64},
    {"max.compaction.lag.ms", "log.cleaner.max.compaction.lag.ms", config_type::int64},
    {"max.message.bytes", "message.max.bytes", config_type::int32},
    {"message.downconversion.enable", "log.message.downconversion.enable", config_type::boolean},
    {"message.timestamp.difference.max.ms", "log.message.timestamp.difference.max.ms", config_type::int64},
    {"message.timestamp.type", "log.message.timestamp.type", config_type::string},
    {"min.cleanable.dirty.ratio", "log.cleaner.min.cleanable.ratio", config_type::ratio},
    {"min.compaction.lag.ms", "log.cleaner.min.compaction.lag.ms", config_type::int64},
    {"min.insync.replicas", "min.insync.replicas", config_type::int32},
    {"preallocate", "log.preallocate", config_type::boolean},
    {"retention.bytes", "log.retention.bytes", config_type::int64},
    {"retention.ms", "log.retention.ms", config_type::int64},
    {"segment.bytes", "log.segment.bytes", config_type::int32},
    {"segment.index.bytes", "log.index.size.max.bytes", config_type::int32},
    {"segment.jitter.ms", "log.roll.jitter.ms", config_type::int64},
    {"segment.ms", "log.roll.ms", config_type::int64},
    {"unclean.leader.election.enable", "unclean.leader.election.enable", config_type::boolean},
};

const topic_config_meta* topic_config(const std::string& name) {
  for (const auto& m : topic_config_table) {
    if (name == m.name) return &m;
  }
  return nullptr;
}

// Names that appear more than once, for the per-entry INVALID_REQUEST Kafka
// gives every copy of a duplicated topic or resource.
template <class Range, class Key>
std::set<std::string> duplicates(const Range& items, Key key) {
  std::set<std::string> seen, dup;
  for (const auto& i : items) {
    if (!seen.insert(key(i)).second) dup.insert(key(i));
  }
  return dup;
}

// A list-valued config ("delete,compact") as its items, spaces trimmed and empties dropped.
std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t comma = s.find(',', pos);
    if (comma == std::string::npos) comma = s.size();
    std::string item = s.substr(pos, comma - pos);
    item.erase(0, item.find_first_not_of(' '));
    item.erase(item.find_last_not_of(' ') + 1);
    if (!item.empty()) out.push_back(std::move(item));
    pos = comma + 1;
  }
  return out;
}

std::string join_list(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) {
    if (!out.empty()) out += ',';
    out += i;
  }
  return out;
}

}  // namespace

// ------------------------------------------------------------ CreateTopics

void handle_create_topics(request_context& c) {
  proto::create_topics_request req;
  if (!read_request(c, req)) return;
  const int16_t v = c.version();
  auto& topics = c.b.topics();
  const int32_t node = c.b.options().node_id;
  const auto dup = duplicates(req.topics, [](const auto& t) { return t.name; });
  proto::create_topics_response resp;
  for (const auto& t : req.topics) {
    proto::create_topics_response::topic_result out;
    out.name = t.name;
    out.error_message = std::nullopt;
    // Kafka's checks of the request itself, in its order; the topic manager does the rest.
    auto check = [&]() -> std::optional<failure> {
      if (dup.contains(t.name)) return failure{error_code::invalid_request, "Duplicate topic name."};
      if (t.assignments.empty()) return std::nullopt;
      if (t.num_partitions != -1 || t.replication_factor != -1) {
        return failure{
            error_code::invalid_request,
            "Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be "
            "used at the same time."};
      }
      std::vector<int32_t> indexes;
      for (const auto& a : t.assignments) {
        if (a.broker_ids.size() != 1 || a.broker_ids[0] != node) {
          return failure{
              error_code::invalid_replica_assignment,
              "Every partition must have exactly one replica, on broker " + std::to_string(node) + "."};
        }
        indexes.push_back(a.partition_index);
      }
      std::sort(indexes.begin(), indexes.end());
      for (size_t i = 0; i < indexes.size(); ++i) {
        if (indexes[i] != static_cast<int32_t>(i)) {
          return failure{error_code::invalid_replica_assignment,
                         "Partitions should be a consecutive 0-based integer sequence"};
        }
      }
      return std::nullopt;
    };
    std::optional<failure> bad = check();
    std::map<std::string, std::string> configs;
    for (const auto& cfg : t.configs) {
      if (bad) break;
      if (!cfg.value) {
        bad = failure{error_code::invalid_config, "Null value not supported for topic configs: " + cfg.name};
      } else {
        configs[cfg.name] = *cfg.value;
      }
    }
    if (!bad) {
      // Manual assignments give the partition count; replication is always 1
      // (durability comes from the WAL and the object store).
      int32_t partitions =
          t.assignments.empty() ? t.num_partitions : static_cast<int32_t>(t.assignments.size());
      int16_t replication = t.assignments.empty() ? t.replication_factor : int16_t{1};
      auto created = topics.create(t.name, partitions, replication, configs, req.validate_only);
      if (!created) {
        bad = from(created.error());
      } else if (v >= 5) {
        // KIP-525: what was (or would be) created.
        const auto& info = created.value();
        if (!req.validate_only) out.topic_id = to_uuid(info.id);
        out.num_partitions = static_cast<int32_t>(info.partitions.size());
        out.replication_factor = 1;
        std::vector<proto::create_topics_response::result_config> rc;
        for (const auto& e : topics.describe_configs(info)) {
          proto::create_topics_response::result_config r;
          r.name = e.name;
          r.value = e.sensitive ? std::nullopt : std::optional<std::string>(e.value);
          r.read_only = e.read_only;
          r.config_source = e.is_default ? source_default : source_dynamic_topic;
          r.is_sensitive = e.sensitive;
          rc.push_back(std::move(r));
        }
        out.configs = std::move(rc);
      }
    }
    if (bad) {
      out.error_code = code(bad->code);
      out.error_message = std::move(bad->message);
      out.configs = std::nullopt;
    }
    resp.topics.push_back(std::move(out));
  }
  c.reply(resp);
}

// ------------------------------------------------------------ DeleteTopics

void handle_delete_topics(request_context& c) {
  proto::delete_topics_request req;
  if (!read_request(c, req)) return;
  auto& topics = c.b.topics();
  // v0-5 name topics; v6 names or topic ids (one of the two per entry).
  std::vector<proto::delete_topics_request::topic_state> wanted;
  if (c.version() >= 6) {
    wanted = std::move(req.topics);
  } else {
    for (auto& n : req.topic_names) {
      proto::delete_topics_request::topic_state s;
      s.name = std::move(n);
      wanted.push_back(std::move(s));
    }
  }
  const auto dup = duplicates(wanted, [](const auto& s) {
    if (s.name) return "n:" + *s.name;
    return "i:" + std::string(s.topic_id.bytes.begin(), s.topic_id.bytes.end());
  });
  proto::delete_topics_response resp;
  for (const auto& s : wanted) {
    proto::delete_topics_response::topic_result out;
    out.name = s.name;
    out.topic_id = s.topic_id;
    auto attempt = [&]() -> std::optional<failure> {
      const std::string key =
          s.name ? "n:" + *s.name : "i:" + std::string(s.topic_id.bytes.begin(), s.topic_id.bytes.end());
      if (dup.contains(key)) return failure{error_code::invalid_request, "Duplicate topic in request."};
      if (s.name && !s.topic_id.is_zero()) {
        return failure{error_code::invalid_request, "You may not specify both topic name and topic id."};
      }
      std::optional<topic_info> t;
      if (s.name) {
        t = topics.find(*s.name);
      } else {
        t = topics.find_by_id(s.topic_id.bytes);
        if (!t) return failure{error_code::unknown_topic_id, "This server does not host this topic ID."};
        out.name = t->name;
      }
      if (t) out.topic_id = to_uuid(t->id);
      const std::string name = s.name ? *s.name : t->name;
      if (auto r = topics.remove(name); !r) return from(r.error());
      c.b.groups().delete_topic_offsets(name);
      return std::nullopt;
    };
    if (auto bad = attempt()) {
      out.error_code = code(bad->code);
      out.error_message = std::move(bad->message);
    }
    if (!out.name && c.version() < 6) out.name = "";
    resp.responses.push_back(std::move(out));
  }
  c.reply(resp);
}

// -------------------------------------------------------- CreatePartitions

void handle_create_partitions(request_context& c) {
  proto::create_partitions_request req;
  if (!read_request(c, req)) return;
  auto& topics = c.b.topics();
  const int32_t node = c.b.options().node_id;
  const auto dup = duplicates(req.topics, [](const auto& t) { return t.name; });
  proto::create_partitions_response resp;
  for (const auto& t : req.topics) {
    proto::create_partitions_response::topic_result out;
    out.name = t.name;
    auto attempt = [&]() -> std::optional<failure> {
      if (dup.contains(t.name)) return failure{error_code::invalid_request, "Duplicate topic in request."};
      if (t.assignments && !t.assignments->empty()) {
        // Only checked against an existing topic; an unknown one fails below.
        if (auto info = topics.find(t.name)) {
          const int64_t added = int64_t{t.count} - static_cast<int64_t>(info->partitions.size());
          if (added > 0 && static_cast<int64_t>(t.assignments->size()) != added) {
            return failure{error_code::invalid_replica_assignment,
                           "Increasing the number of partitions by " + std::to_string(added) + " but " +
                               std::to_string(t.assignments->size()) + " assignments provided."};
          }
        }
        for (const auto& a : *t.assignments) {
          if (a.broker_ids.size() != 1 || a.broker_ids[0] != node) {
            return failure{
                error_code::invalid_replica_assignment,
                "Every partition must have exactly one replica, on broker " + std::to_string(node) + "."};
          }
        }
      }
      if (auto r = topics.add_partitions(t.name, t.count, req.validate_only); !r) return from(r.error());
      return std::nullopt;
    };
    if (auto bad = attempt()) {
      out.error_code = code(bad->code);
      out.error_message = std::move(bad->message);
    }
    resp.results.push_back(std::move(out));
  }
  c.reply(resp);
}

// --------------------------------------------------------- DescribeConfigs

namespace {

using described_config = proto::describe_configs_response::config_entry;

// The broker's own configs, all read-only: Sluice reads them from its config
// file at start (Kafka's names; values from the broker options).
std::vector<std::pair<std::string, std::pair<std::string, config_type>>> broker_configs(
    const broker_options& o) {
  const auto& t = o.topics;
  const auto& g = o.groups;
  auto ms = [](std::chrono::milliseconds d) { return std::to_string(d.count()); };
  return {
      {"advertised.listeners",
       {"PLAINTEXT://" + o.advertised_host + ":" + std::to_string(o.advertised_port), config_type::string}},
      {"auto.create.topics.enable", {t.auto_create ? "true" : "false", config_type::boolean}},
      {"broker.id", {std::to_string(o.node_id), config_type::int32}},
      {"compression.type", {t.compression_type, config_type::string}},
      {"default.replication.factor", {"1", config_type::int32}},
      {"delete.topic.enable", {"true", config_type::boolean}},
      {"fetch.max.bytes", {std::to_string(o.fetch_max_bytes), config_type::int32}},
      {"group.initial.rebalance.delay.ms", {ms(g.initial_rebalance_delay), config_type::int32}},
      {"group.max.session.timeout.ms", {ms(g.max_session_timeout), config_type::int32}},
      {"group.max.size", {std::to_string(g.max_group_size), config_type::int32}},
      {"group.min.session.timeout.ms", {ms(g.min_session_timeout), config_type::int32}},
      {"log.cleanup.policy", {t.cleanup_policy, config_type::list}},
      {"log.message.timestamp.type", {t.timestamp_type, config_type::string}},
      {"log.retention.bytes", {std::to_string(t.retention_bytes), config_type::int64}},
      {"log.retention.ms", {std::to_string(t.retention_ms), config_type::int64}},
      {"message.max.bytes", {std::to_string(t.max_message_bytes), config_type::int32}},
      {"node.id", {std::to_string(o.node_id), config_type::int32}},
      {"num.partitions", {std::to_string(t.num_partitions), config_type::int32}},
      {"offset.metadata.max.bytes", {std::to_string(g.max_offset_metadata_bytes), config_type::int32}},
      {"offsets.retention.minutes",
       {std::to_string(std::chrono::duration_cast<std::chrono::minutes>(g.offsets_retention).count()),
        config_type::int32}},
  };
}

bool wanted_key(const std::optional<std::vector<std::string>>& keys, const std::string& name) {
  return !keys || std::find(keys->begin(), keys->end(), name) != keys->end();
}

}  // namespace

void handle_describe_configs(request_context& c) {
  proto::describe_configs_request req;
  if (!read_request(c, req)) return;
  const int16_t v = c.version();
  auto& topics = c.b.topics();
  const bool synonyms = v >= 1 && req.include_synonyms;
  proto::describe_configs_response resp;
  for (const auto& res : req.resources) {
    proto::describe_configs_response::resource_result out;
    out.error_message = std::nullopt;
    out.resource_type = res.resource_type;
    out.resource_name = res.resource_name;
    auto entry = [&](std::string name, std::optional<std::string> value, bool is_default, int8_t source,
                     config_type type) {
      described_config e;
      e.name = std::move(name);
      e.value = std::move(value);
      e.is_default = is_default;
      e.config_source = source;
      e.config_type = static_cast<int8_t>(type);
      e.documentation = std::nullopt;
      return e;
    };
    auto attempt = [&]() -> std::optional<failure> {
      if (res.resource_type == resource_topic) {
        if (!topic_manager::valid_name(res.resource_name)) {
          return from(
              error(topic_errc::invalid_topic, "Topic name \"" + res.resource_name + "\" is illegal"));
        }
        auto t = topics.find(res.resource_name);
        if (!t) return from(error(topic_errc::unknown_topic, unknown_topic_message));
        // The same topic without its own configs gives each config's default.
        topic_info bare = *t;
        bare.configs.clear();
        std::map<std::string, std::string> defaults;
        if (synonyms) {
          for (auto& d : topics.describe_configs(bare)) defaults[d.name] = std::move(d.value);
        }
        for (auto& ce : topics.describe_configs(*t)) {
          if (!wanted_key(res.configuration_keys, ce.name)) continue;
          const auto* meta = topic_config(ce.name);
          auto e = entry(ce.name, ce.sensitive ? std::nullopt : std::optional<std::string>(ce.value),
                         ce.is_default, ce.is_default ? source_default : source_dynamic_topic,
                         meta ? meta->type : config_type::unknown);
          e.read_only = ce.read_only;
          e.is_sensitive = ce.sensitive;
          if (synonyms) {
            // Kafka's order: the topic's own value, then the default it overrides.
            if (!ce.is_default) e.synonyms.push_back({ce.name, e.value, source_dynamic_topic, {}});
            if (meta) {
              std::optional<std::string> dv;
              if (!ce.sensitive) dv = defaults[ce.name];
              e.synonyms.push_back({meta->broker_synonym, std::move(dv), source_default, {}});
            }
          }
          out.configs.push_back(std::move(e));
        }
        return std::nullopt;
      }
      if (res.resource_type == resource_broker) {
        // "" names the cluster-wide dynamic defaults, of which there are none.
        if (res.resource_name.empty()) return std::nullopt;
        const std::string self = std::to_string(c.b.options().node_id);
        if (res.resource_name != self) {
          return failure{error_code::invalid_request, "Unexpected broker id, expected " + self +
                                                          " or empty string, but received " +
                                                          res.resource_name};
        }
        for (auto& [name, vt] : broker_configs(c.b.options())) {
          if (!wanted_key(res.configuration_keys, name)) continue;
          auto e = entry(name, vt.first, false, source_static_broker, vt.second);
          e.read_only = true;
          if (synonyms) e.synonyms.push_back({name, vt.first, source_static_broker, {}});
          out.configs.push_back(std::move(e));
        }
        return std::nullopt;
      }
      return failure{
          error_code::invalid_request,
          "Unsupported resource type " + std::to_string(res.resource_type) + " for DescribeConfigs"};
    };
    if (auto bad = attempt()) {
      out.error_code = code(bad->code);
      out.error_message = std::move(bad->message);
      out.configs.clear();
    }
    resp.results.push_back(std::move(out));
  }
  c.reply(resp);
}

// ------------------------------------------------ AlterConfigs (replacing)

namespace {

const std::string broker_configs_static =
    "Broker configs cannot be altered at runtime: Sluice reads them from its config file at start";

// Alter responses share one shape; Response is alter_configs_response or
// incremental_alter_configs_response.
template <class Response>
typename Response::resource_response alter_result(int8_t type, const std::string& name,
                                                  const std::optional<failure>& bad) {
  typename Response::resource_response r;
  r.resource_type = type;
  r.resource_name = name;
  r.error_code = code(bad ? bad->code : error_code::none);
  r.error_message = bad ? std::optional<std::string>(bad->message) : std::nullopt;
  return r;
}

template <class Resource>
std::optional<failure> unsupported_resource(const Resource& res, const std::set<std::string>& dup) {
  if (dup.contains(std::to_string(res.resource_type) + "/" + res.resource_name)) {
    return failure{error_code::invalid_request, "Each resource must appear at most once."};
  }
  if (res.resource_type == resource_broker)
    return failure{error_code::invalid_request, broker_configs_static};
  if (res.resource_type != resource_topic) {
    return failure{error_code::invalid_request,
                   "Unsupported resource type " + std::to_string(res.resource_type)};
  }
  return std::nullopt;
}

}  // namespace

void handle_alter_configs(request_context& c) {
  proto::alter_configs_request req;
  if (!read_request(c, req)) return;
  auto& topics = c.b.topics();
  const auto dup = duplicates(
      req.resources, [](const auto& r) { return std::to_string(r.resource_type) + "/" + r.resource_name; });
  proto::alter_configs_response resp;
  for (const auto& res : req.resources) {
    auto attempt = [&]() -> std::optional<failure> {
      if (auto bad = unsupported_resource(res, dup)) return bad;
      // The request's configs replace the topic's whole set.
      std::map<std::string, std::optional<std::string>> edits;
      for (const auto& cfg : res.configs) {
        if (!cfg.value)
          return failure{error_code::invalid_request, "Null value not supported for : " + cfg.name};
        edits[cfg.name] = cfg.value;
      }
      if (auto r = topics.set_configs(res.resource_name, edits, true, req.validate_only); !r)
        return from(r.error());
      return std::nullopt;
    };
    resp.responses.push_back(
        alter_result<proto::alter_configs_response>(res.resource_type, res.resource_name, attempt()));
  }
  c.reply(resp);
}

// ------------------------------------------------ IncrementalAlterConfigs

void handle_incremental_alter_configs(request_context& c) {
  proto::incremental_alter_configs_request req;
  if (!read_request(c, req)) return;
  auto& topics = c.b.topics();
  const auto dup = duplicates(
      req.resources, [](const auto& r) { return std::to_string(r.resource_type) + "/" + r.resource_name; });
  enum op : int8_t { set = 0, remove = 1, append = 2, subtract = 3 };
  proto::incremental_alter_configs_response resp;
  for (const auto& res : req.resources) {
    auto attempt = [&]() -> std::optional<failure> {
      if (auto bad = unsupported_resource(res, dup)) return bad;
      if (!duplicates(res.configs, [](const auto& cfg) { return cfg.name; }).empty()) {
        return failure{error_code::invalid_request, "Error due to duplicate config keys"};
      }
      auto t = topics.find(res.resource_name);
      if (!t) return from(error(topic_errc::unknown_topic, unknown_topic_message));
      std::map<std::string, std::optional<std::string>> edits;
      for (const auto& cfg : res.configs) {
        const int8_t o = cfg.config_operation;
        if (o < set || o > subtract) {
          return failure{error_code::invalid_request,
                         "Unknown alter config operation type " + std::to_string(o)};
        }
        if (o != remove && !cfg.value) {
          return failure{error_code::invalid_request, "Null value not supported for : " + cfg.name};
        }
        if (o == set) {
          edits[cfg.name] = cfg.value;
        } else if (o == remove) {
          edits[cfg.name] = std::nullopt;
        } else {
          // APPEND / SUBTRACT: list-valued configs only; of the topic configs, cleanup.policy.
          const auto* meta = topic_config(cfg.name);
          if (!meta || meta->type != config_type::list) {
            return failure{error_code::invalid_config, std::string("Config value ") +
                                                           (o == append ? "append" : "subtract") +
                                                           " is not allowed for config key: " + cfg.name};
          }
          std::string current;
          for (auto& e : topics.describe_configs(*t)) {
            if (e.name == cfg.name) current = std::move(e.value);
          }
          auto items = split_list(current);
          for (const auto& item : split_list(*cfg.value)) {
            auto it = std::find(items.begin(), items.end(), item);
            if (o == append && it == items.end()) items.push_back(item);
            if (o == subtract && it != items.end()) items.erase(it);
          }
          edits[cfg.name] = join_list(items);
        }
      }
      if (auto r = topics.set_configs(res.resource_name, edits, false, req.validate_only); !r) {
        return from(r.error());
      }
      return std::nullopt;
    };
    resp.responses.push_back(alter_result<proto::incremental_alter_configs_response>(
        res.resource_type, res.resource_name, attempt()));
  }
  c.reply(resp);
}

// ----------------------------------------------------------- DeleteRecords

void handle_delete_records(request_context& c) {
  proto::delete_records_request req;
  if (!read_request(c, req)) return;
  auto& topics = c.b.topics();
  auto& engine = c.b.engine();
  proto::delete_records_response resp;
  for (const auto& t : req.topics) {
    proto::delete_records_response::topic_result tr;
    tr.name = t.name;
    for (const auto& p : t.partitions) {
      proto::delete_records_response::partition_result pr;
      pr.partition_index = p.partition_index;
      pr.low_watermark = -1;  // Kafka's INVALID_LOW_WATERMARK, on errors
      auto attempt = [&]() -> error_code {
        auto stream = topics.stream_of(t.name, p.partition_index);
        if (!stream) return to_kafka_error(error(topic_errc::unknown_topic, unknown_topic_message));
        auto st = engine.status(*stream);
        if (!st) return to_kafka_error(st.error());
        // -1: up to the high watermark. Past it, or another negative: out of range.
        const stream::offset to = p.offset == -1 ? st.value().end : p.offset;
        if (to < 0 || to > st.value().end) return error_code::offset_out_of_range;
        if (auto r = engine.trim(*stream, to); !r) return to_kafka_error(r.error());
        auto after = engine.status(*stream);
        if (!after) return to_kafka_error(after.error());
        pr.low_watermark = after.value().start;
        return error_code::none;
      };
      pr.error_code = code(attempt());
      tr.partitions.push_back(std::move(pr));
    }
    resp.topics.push_back(std::move(tr));
  }
  c.reply(resp);
}

}  // namespace sluice::kafka
