#include "apps/sluice/event_services.h"

#include <spdlog/spdlog.h>

#include "base/fs.h"
#include "kafka/broker/broker.h"

namespace sluice::app {

namespace {

// Config-file target sections: `notify_kafka.<id>.<key>=value` (and
// notify_webhook / notify_sluice) become section "notify_kafka:<id>".
std::vector<events::config_section> sections_from(const config::settings& cfg) {
  std::vector<events::config_section> out;
  for (const char* subsys : {"notify_kafka", "notify_webhook", "notify_sluice"}) {
    std::map<std::string, events::config_section> by_id;
    for (const auto& [rest, value] : cfg.family(std::string(subsys) + ".")) {
      auto dot = rest.find('.');
      std::string id = dot == std::string::npos ? "_" : rest.substr(0, dot);
      std::string key = dot == std::string::npos ? rest : rest.substr(dot + 1);
      auto& s = by_id[id];
      s.name = std::string(subsys) + ":" + id;
      s.kvs.emplace_back(key, value);
    }
    for (auto& [_, s] : by_id) out.push_back(std::move(s));
  }
  return out;
}

}  // namespace

result<std::unique_ptr<events::notifier>> start_event_services(const config::settings& cfg,
                                                               objstore::object_layer& store,
                                                               const std::string& first_drive,
                                                               const std::string& region,
                                                               std::shared_ptr<kafka::broker> broker) {
  events::notifier_options o;
  o.state_dir = fs::join(first_drive, ".sluice.sys/events");
  SLUICE_TRY(auto limit, cfg.get_bytes("notify.outbox.limit.bytes"));
  o.outbox_limit_bytes = limit;
  SLUICE_TRY(o.queue_read_events, cfg.get_bool("notify.queue.read.events"));
  o.region = region;
  o.store = &store;
  o.config = sections_from(cfg);
  if (broker) {
    o.producer = [broker](const std::string& topic, std::span<const events::local_message> msgs) -> result<void> {
      std::vector<kafka::broker::local_record> recs;
      recs.reserve(msgs.size());
      for (const auto& m : msgs) recs.push_back({m.key, m.value, m.headers});
      return broker->produce_local(topic, recs);
    };
  }
  return events::notifier::open(std::move(o));
}

}  // namespace sluice::app
