#pragma once
// Target configuration: sections notify_kafka:<id>, notify_webhook:<id> and
// notify_sluice:<id> of key=value pairs, with MinIO's keys and environment
// variables (../shared/reference/minio.md §3), merged from four layers
// (docs/NOTIFICATIONS.md, "Configuration"):
//   1. defaults    notify_sluice:1 topic=bucket-events (when the built-in target exists)
//   2. the server's configuration file
//   3. admin changes (`sluice admin config set/reset`), persisted in a JSON file
//   4. environment variables MINIO_NOTIFY_KAFKA_<KEY>[_<ID>], MINIO_NOTIFY_WEBHOOK_…,
//      and the same with SLUICE_ (SLUICE_ wins); no _<ID> suffix means id "_"
// Everything here is pure except config_layers::load/save.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"
#include "events/errc.h"
#include "events/sink.h"

namespace sluice::events {

using kv_map = std::map<std::string, std::string>;

enum class target_kind { kafka, webhook, sluice };
// "kafka", "webhook", "sluice": the type in the ARN.
std::string_view kind_name(target_kind k);
// "notify_kafka", ...
std::string_view subsystem_name(target_kind k);

struct section_id {
  target_kind kind = target_kind::kafka;
  std::string id = "_";  // MinIO's default target id
  // "notify_kafka:1"; "notify_kafka" for id "_" (as mc prints it).
  std::string str() const;
  // arn:minio:sqs::<id>:<type>: the form MinIO prints (empty region) and the
  // key of the target's events in the outbox.
  std::string arn() const;
  auto operator<=>(const section_id&) const = default;
};

// "notify_kafka:1" → {kafka, "1"}; "notify_kafka" → {kafka, "_"} unless
// allow_subsystem, then id is empty (meaning: every section of it).
// unknown_target for other subsystems, bad_config for a malformed id.
result<section_id> parse_section(std::string_view name, bool allow_subsystem = false);

// Whether every key is one of the kind's keys (bad_config naming the valid ones).
result<void> check_keys(target_kind kind, const kv_map& kvs);
// Checks a section's keys (unknown key → bad_config naming the valid keys)
// and, when the section is enabled, its values (MinIO's messages where MinIO
// has them, e.g. "kafka 'brokers' cannot be empty").
result<void> validate_section(target_kind kind, const kv_map& kvs);
// enable is on unless set to off/false: a section that exists is a target.
bool section_enabled(const kv_map& kvs);
// on/true/yes/1 → true, off/false/no/0 → false.
std::optional<bool> parse_switch(std::string_view v);
// Values shown as this by get: passwords and tokens.
inline constexpr std::string_view kRedacted = "*redacted*";
bool is_secret_key(std::string_view key);

// The sections named by environment variables (see above), in name order.
// Variables that match a prefix but no key are returned in `unknown`.
std::vector<config_section> sections_from_env(const std::map<std::string, std::string>& env,
                                              std::vector<std::string>* unknown = nullptr);

// A webhook endpoint URL.
struct http_endpoint {
  bool tls = false;
  std::string host;
  uint16_t port = 80;
  std::string target = "/";  // path and query
  std::string host_header;   // host[:port] as in the URL
};
result<http_endpoint> parse_endpoint(std::string_view url);

// librdkafka producer properties for a notify_kafka section (assumed
// validated): bootstrap.servers, security, SASL, compression, and the
// delivery settings every Sluice producer uses (idempotence, acks=all, 5 ms
// linger). Pure, so the mapping is unit-tested without a broker.
std::vector<std::pair<std::string, std::string>> kafka_properties(const kv_map& kvs);

// The four layers and their merge. Not thread-safe (the notifier locks).
class config_layers {
 public:
  config_layers(std::vector<config_section> defaults, std::vector<config_section> file,
                std::vector<config_section> env, std::string persist_path);
  // Reads the persisted admin changes (a missing file is none).
  result<void> load();
  // Every section after the merge, by section id. Sections whose name does
  // not parse are left out (reported by invalid_names()).
  std::map<section_id, kv_map> effective() const;
  std::vector<std::string> invalid_names() const;
  // Admin set: the pairs are merged into the section's admin layer; the
  // result is validated, persisted (atomically, fsynced) and only then kept.
  result<void> set(const section_id& s, const kv_map& kvs, bool builtin_available);
  // Admin reset: the section disappears (also its defaults and config file
  // values) until it is set again; environment variables still apply.
  // unknown_target when there is no such section.
  result<void> reset(const section_id& s);

 private:
  struct admin_entry {
    bool replace = false;  // hides the lower layers' values of this section
    kv_map kvs;
  };
  std::map<section_id, kv_map> merged(const std::map<section_id, admin_entry>& admin) const;
  result<void> save(const std::map<section_id, admin_entry>& admin) const;

  std::vector<config_section> defaults_, file_, env_;
  std::string path_;
  std::map<section_id, admin_entry> admin_;
};

}  // namespace sluice::events
