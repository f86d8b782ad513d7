// Target configuration: keys, validation, environment variables, librdkafka
// properties, and the merge of the four layers (target_config.h).
#include "events/target_config.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <charconv>

#include "base/fs.h"
#include "http/server.h"
#include "net/stream.h"

namespace sluice::events {

namespace json = boost::json;

namespace {

// The keys of each kind, as MinIO names them (minio.md §3). Keys MinIO has
// and Sluice does not need (queue_dir, version, batch_*, tls_client_auth)
// are accepted so that MinIO configurations load unchanged: the outbox is
// always on and batches by itself (docs/NOTIFICATIONS.md).
const std::vector<std::string_view>& keys_of(target_kind k) {
  static const std::vector<std::string_view> kafka = {"enable",
                                                      "brokers",
                                                      "topic",
                                                      "sasl",
                                                      "sasl_username",
                                                      "sasl_password",
                                                      "sasl_mechanism",
                                                      "tls",
                                                      "tls_skip_verify",
                                                      "tls_client_auth",
                                                      "client_tls_cert",
                                                      "client_tls_key",
                                                      "queue_dir",
                                                      "queue_limit",
                                                      "version",
                                                      "batch_size",
                                                      "batch_commit_timeout",
                                                      "compression_codec",
                                                      "compression_level",
                                                      "comment"};
  static const std::vector<std::string_view> webhook = {
      "enable", "endpoint", "auth_token", "queue_dir", "queue_limit", "client_cert", "client_key", "comment"};
  static const std::vector<std::string_view> sluice = {"enable", "topic", "queue_limit", "comment"};
  switch (k) {
    case target_kind::kafka:
      return kafka;
    case target_kind::webhook:
      return webhook;
    case target_kind::sluice:
      return sluice;
  }
  return sluice;
}

constexpr target_kind kKinds[] = {target_kind::kafka, target_kind::webhook, target_kind::sluice};

std::string get(const kv_map& kvs, const std::string& k) {
  auto it = kvs.find(k);
  return it == kvs.end() ? std::string() : it->second;
}

bool is_on(const kv_map& kvs, const std::string& k) {
  return parse_switch(get(kvs, k)).value_or(false);
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

template <class T>
bool parse_number(std::string_view s, T& out) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return !s.empty() && ec == std::errc() && end == s.data() + s.size();
}

// A Kafka topic name: 1-249 of [a-zA-Z0-9._-] (Kafka's own rule).
bool valid_topic(std::string_view t) {
  if (t.empty() || t.size() > 249 || t == "." || t == "..") return false;
  return std::all_of(t.begin(), t.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

std::string sasl_mechanism(std::string_view v) {
  const std::string m = lower(v);
  if (m.empty() || m == "plain") return "PLAIN";
  if (m == "sha256" || m == "scram-sha-256") return "SCRAM-SHA-256";
  if (m == "sha512" || m == "scram-sha-512") return "SCRAM-SHA-512";
  return {};
}

error bad(std::string msg) {
  return error(errc::bad_config, std::move(msg));
}

result<void> check_switches(const kv_map& kvs, std::initializer_list<const char*> keys) {
  for (const char* k : keys) {
    auto it = kvs.find(k);
    if (it != kvs.end() && !it->second.empty() && !parse_switch(it->second)) {
      return fail(bad(std::string(k) + ": '" + it->second + "' is not on or off"));
    }
  }
  return ok();
}

result<void> check_common(const kv_map& kvs) {
  SLUICE_TRY(check_switches(kvs, {"enable"}));
  if (const std::string q = get(kvs, "queue_limit"); !q.empty()) {
    uint64_t n = 0;
    if (!parse_number(q, n)) return fail(bad("queue_limit: '" + q + "' is not a number of events"));
  }
  if (const std::string d = get(kvs, "queue_dir"); !d.empty() && d[0] != '/') {
    return fail(bad("queue_dir: '" + d + "' must be an absolute path"));
  }
  return ok();
}

result<void> check_pair(const kv_map& kvs, const char* a, const char* b) {
  if (get(kvs, a).empty() != get(kvs, b).empty()) {
    return fail(bad(std::string(a) + " and " + b + " must be given together"));
  }
  return ok();
}

result<void> validate_kafka(const kv_map& kvs) {
  SLUICE_TRY(check_switches(kvs, {"tls", "tls_skip_verify", "sasl"}));
  const std::string brokers = get(kvs, "brokers");
  size_t count = 0;
  for (size_t pos = 0; pos <= brokers.size();) {
    size_t comma = brokers.find(',', pos);
    if (comma == std::string::npos) comma = brokers.size();
    std::string b = brokers.substr(pos, comma - pos);
    b.erase(0, b.find_first_not_of(' '));
    b.erase(b.find_last_not_of(' ') + 1);
    pos = comma + 1;
    if (b.empty()) continue;
    auto hp = net::split_host_port(b);
    if (!hp || hp.value().first.empty()) return fail(bad("kafka 'brokers': '" + b + "' is not host:port"));
    ++count;
  }
  if (count == 0) return fail(bad("kafka 'brokers' cannot be empty"));
  if (!valid_topic(get(kvs, "topic"))) {
    return fail(bad(get(kvs, "topic").empty()
                        ? "kafka 'topic' cannot be empty"
                        : "kafka 'topic': '" + get(kvs, "topic") + "' is not a topic name"));
  }
  if (sasl_mechanism(get(kvs, "sasl_mechanism")).empty()) {
    return fail(bad("sasl_mechanism: '" + get(kvs, "sasl_mechanism") + "' is not plain, sha256 or sha512"));
  }
  if (is_on(kvs, "sasl") && get(kvs, "sasl_username").empty()) {
    return fail(bad("kafka 'sasl_username' cannot be empty when sasl is on"));
  }
  SLUICE_TRY(check_pair(kvs, "client_tls_cert", "client_tls_key"));
  const std::string codec = lower(get(kvs, "compression_codec"));
  if (!codec.empty() && codec != "none" && codec != "gzip" && codec != "snappy" && codec != "lz4" &&
      codec != "zstd") {
    return fail(bad("compression_codec: '" + codec + "' is not none, gzip, snappy, lz4 or zstd"));
  }
  if (const std::string l = get(kvs, "compression_level"); !l.empty()) {
    int n = 0;
    if (!parse_number(l, n)) return fail(bad("compression_level: '" + l + "' is not a number"));
  }
  return ok();
}

result<void> validate_webhook(const kv_map& kvs) {
  const std::string ep = get(kvs, "endpoint");
  if (ep.empty()) return fail(bad("webhook 'endpoint' cannot be empty"));
  if (auto e = parse_endpoint(ep); !e) return fail(e.error());
  // Goes into every request's head ("Authorization: Bearer …").
  if (!http::valid_header_value(get(kvs, "auth_token"))) {
    return fail(bad("webhook 'auth_token' cannot hold line breaks or NUL"));
  }
  return check_pair(kvs, "client_cert", "client_key");
}

}  // namespace

namespace {

// Indexed by target_kind.
struct kind_names {
  std::string_view type, subsystem;
};
constexpr kind_names kNames[] = {
    {"kafka", "notify_kafka"}, {"webhook", "notify_webhook"}, {"sluice", "notify_sluice"}};

}  // namespace

std::string_view kind_name(target_kind k) {
  return kNames[static_cast<size_t>(k)].type;
}
std::string_view subsystem_name(target_kind k) {
  return kNames[static_cast<size_t>(k)].subsystem;
}

std::string section_id::str() const {
  return std::string(subsystem_name(kind)) + (id == "_" ? std::string() : ":" + id);
}

std::string section_id::arn() const {
  return "arn:minio:sqs::" + id + ":" + std::string(kind_name(kind));
}

result<section_id> parse_section(std::string_view name, bool allow_subsystem) {
  const size_t colon = name.find(':');
  const std::string_view sub = name.substr(0, colon);
  section_id s;
  bool known = false;
  for (target_kind k : kKinds) {
    if (sub == subsystem_name(k)) {
      s.kind = k;
      known = true;
    }
  }
  if (!known) {
    return fail(errc::unknown_target, "unknown configuration subsystem '" + std::string(sub) +
                                          "' (notify_kafka, notify_webhook and notify_sluice are supported)");
  }
  if (colon == std::string_view::npos) {
    s.id = allow_subsystem ? std::string() : "_";
    return s;
  }
  s.id = std::string(name.substr(colon + 1));
  // The id becomes part of an ARN (':'-separated) and of environment
  // variable names: letters, digits, '_' and '-'.
  const bool ok_id = !s.id.empty() && s.id.size() <= 64 && std::all_of(s.id.begin(), s.id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
  if (!ok_id) return fail(bad("bad target id '" + s.id + "' (letters, digits, '_' and '-', at most 64)"));
  return s;
}

std::optional<bool> parse_switch(std::string_view v) {
  const std::string s = lower(v);
  if (s == "on" || s == "true" || s == "yes" || s == "1" || s == "enable" || s == "enabled") return true;
  if (s == "off" || s == "false" || s == "no" || s == "0" || s == "disable" || s == "disabled") return false;
  return std::nullopt;
}

bool section_enabled(const kv_map& kvs) {
  auto it = kvs.find("enable");
  return it == kvs.end() || it->second.empty() || parse_switch(it->second).value_or(true);
}

bool is_secret_key(std::string_view key) {
  return key == "sasl_password" || key == "auth_token";
}

result<void> check_keys(target_kind kind, const kv_map& kvs) {
  const auto& keys = keys_of(kind);
  for (const auto& [k, v] : kvs) {
    if (std::find(keys.begin(), keys.end(), k) == keys.end()) {
      std::string valid;
      for (auto key : keys) valid += (valid.empty() ? "" : ", ") + std::string(key);
      return fail(bad("unknown key '" + k + "' for " + std::string(subsystem_name(kind)) +
                      " (valid keys: " + valid + ")"));
    }
  }
  return ok();
}

result<void> validate_section(target_kind kind, const kv_map& kvs) {
  SLUICE_TRY(check_keys(kind, kvs));
  SLUICE_TRY(check_common(kvs));
  if (!section_enabled(kvs)) return ok();
  switch (kind) {
    case target_kind::kafka:
      return validate_kafka(kvs);
    case target_kind::webhook:
      return validate_webhook(kvs);
    case target_kind::sluice:
      if (!valid_topic(get(kvs, "topic"))) {
        return fail(bad("sluice 'topic': '" + get(kvs, "topic") + "' is not a topic name"));
      }
      return ok();
  }
  return ok();
}

std::vector<config_section> sections_from_env(const std::map<std::string, std::string>& env,
                                              std::vector<std::string>* unknown) {
  std::map<section_id, kv_map> found;
  // MINIO_ first so that SLUICE_ overrides it.
  for (std::string_view brand : {"MINIO_NOTIFY_", "SLUICE_NOTIFY_"}) {
    for (target_kind kind : kKinds) {
      if (kind == target_kind::sluice && brand == "MINIO_NOTIFY_") continue;  // MinIO has no such target
      const std::string prefix = std::string(brand) + upper(kind_name(kind)) + "_";
      // Longest key first: TLS_SKIP_VERIFY must not read as key TLS, id SKIP_VERIFY.
      std::vector<std::pair<std::string, std::string>> names;  // env spelling, key
      for (auto k : keys_of(kind)) names.emplace_back(upper(k), std::string(k));
      if (kind == target_kind::kafka) {
        names.emplace_back("PRODUCER_COMPRESSION_CODEC", "compression_codec");
        names.emplace_back("PRODUCER_COMPRESSION_LEVEL", "compression_level");
      }
      std::sort(names.begin(), names.end(),
                [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
      for (auto it = env.lower_bound(prefix); it != env.end() && it->first.starts_with(prefix); ++it) {
        const std::string rest = it->first.substr(prefix.size());
        bool matched = false;
        for (const auto& [spelling, key] : names) {
          if (rest == spelling || (rest.starts_with(spelling + "_") && rest.size() > spelling.size() + 1)) {
            section_id s{kind, rest == spelling ? "_" : rest.substr(spelling.size() + 1)};
            found[s][key] = it->second;
            matched = true;
            break;
          }
        }
        if (!matched && unknown) unknown->push_back(it->first);
      }
    }
  }
  std::vector<config_section> out;
  for (auto& [s, kvs] : found) out.push_back({s.str(), {kvs.begin(), kvs.end()}});
  return out;
}

result<http_endpoint> parse_endpoint(std::string_view url) {
  // The URL becomes each request's line and Host header.
  if (url.find_first_of(std::string_view(" \t\r\n\0", 5)) != std::string_view::npos) {
    return fail(bad("webhook 'endpoint' cannot hold spaces or control characters"));
  }
  http_endpoint e;
  std::string_view rest;
  if (url.starts_with("http://")) {
    rest = url.substr(7);
  } else if (url.starts_with("https://")) {
    rest = url.substr(8);
    e.tls = true;
    e.port = 443;
  } else {
    return fail(bad("webhook 'endpoint': '" + std::string(url) + "' is not an http:// or https:// URL"));
  }
  const size_t slash = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    e.target = std::string(rest.substr(slash));
    if (e.target[0] == '?') e.target = "/" + e.target;
  }
  if (authority.find('@') != std::string_view::npos) {
    return fail(bad("webhook 'endpoint': credentials in the URL are not supported; use auth_token"));
  }
  e.host_header = std::string(authority);
  const bool v6 = authority.starts_with("[");
  const size_t close = v6 ? authority.find(']') : 0;
  if (v6 && close == std::string_view::npos) {
    return fail(bad("webhook 'endpoint': bad host in '" + std::string(url) + "'"));
  }
  const size_t colon = authority.find(':', v6 ? close : 0);
  e.host = std::string(v6 ? authority.substr(1, close - 1) : authority.substr(0, colon));
  if (colon != std::string_view::npos) {
    const std::string_view port = authority.substr(colon + 1);
    unsigned p = 0;
    if (!parse_number(port, p) || p == 0 || p > 65535) {
      return fail(bad("webhook 'endpoint': bad port in '" + std::string(url) + "'"));
    }
    e.port = static_cast<uint16_t>(p);
  }
  if (e.host.empty()) return fail(bad("webhook 'endpoint': no host in '" + std::string(url) + "'"));
  return e;
}

std::vector<std::pair<std::string, std::string>> kafka_properties(const kv_map& kvs) {
  std::vector<std::pair<std::string, std::string>> p;
  std::string brokers;
  for (char c : get(kvs, "brokers")) {
    if (c != ' ') brokers += c;
  }
  p.emplace_back("bootstrap.servers", brokers);
  p.emplace_back("client.id", "sluice-notify");
  // No event may be lost or reordered: the broker acknowledges only what
  // every in-sync replica has, and the idempotent producer keeps retries in
  // order and free of duplicates within a producer session.
  p.emplace_back("enable.idempotence", "true");
  p.emplace_back("acks", "all");
  // Small: events are latency sensitive (p99 target 20 ms), and the outbox
  // already hands over batches.
  p.emplace_back("linger.ms", "5");
  // A message that cannot be delivered fails after this; the delivery worker
  // then marks the target offline and retries it with backoff.
  p.emplace_back("message.timeout.ms", "30000");
  p.emplace_back("socket.keepalive.enable", "true");
  const bool tls = is_on(kvs, "tls"), sasl = is_on(kvs, "sasl");
  p.emplace_back("security.protocol",
                 tls ? (sasl ? "SASL_SSL" : "SSL") : (sasl ? "SASL_PLAINTEXT" : "PLAINTEXT"));
  if (tls) {
    if (is_on(kvs, "tls_skip_verify")) {
      p.emplace_back("enable.ssl.certificate.verification", "false");
      p.emplace_back("ssl.endpoint.identification.algorithm", "none");
    }
    if (!get(kvs, "client_tls_cert").empty()) {
      p.emplace_back("ssl.certificate.location", get(kvs, "client_tls_cert"));
      p.emplace_back("ssl.key.location", get(kvs, "client_tls_key"));
    }
  }
  if (sasl) {
    p.emplace_back("sasl.mechanisms", sasl_mechanism(get(kvs, "sasl_mechanism")));
    p.emplace_back("sasl.username", get(kvs, "sasl_username"));
    p.emplace_back("sasl.password", get(kvs, "sasl_password"));
  }
  if (const std::string codec = lower(get(kvs, "compression_codec")); !codec.empty()) {
    p.emplace_back("compression.codec", codec);
  }
  if (const std::string level = get(kvs, "compression_level"); !level.empty()) {
    p.emplace_back("compression.level", level);
  }
  return p;
}

config_layers::config_layers(std::vector<config_section> defaults, std::vector<config_section> file,
                             std::vector<config_section> env, std::string persist_path)
    : defaults_(std::move(defaults)),
      file_(std::move(file)),
      env_(std::move(env)),
      path_(std::move(persist_path)) {}

// The admin layer's file: {"version":1,"sections":[{"name":"notify_kafka:1",
// "replace":false,"kvs":{"brokers":"…"}}]}.
result<void> config_layers::load() {
  if (!fs::exists(path_)) return ok();
  SLUICE_TRY(auto text, fs::read_file(path_));
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  auto corrupt = [&](const std::string& why) { return fail(errc::bad_config, path_ + ": " + why); };
  if (ec || !v.is_object()) return corrupt("not a JSON object");
  const auto* version = v.as_object().if_contains("version");
  if (!version || !version->is_int64() || version->as_int64() != 1) return corrupt("unknown version");
  const auto* sections = v.as_object().if_contains("sections");
  if (!sections || !sections->is_array()) return corrupt("no sections");
  std::map<section_id, admin_entry> admin;
  for (const auto& s : sections->as_array()) {
    if (!s.is_object() || !s.as_object().if_contains("name") || !s.at("name").is_string()) {
      return corrupt("a section without name");
    }
    auto id = parse_section(std::string(s.at("name").as_string()));
    if (!id) return corrupt(id.error().message());
    admin_entry e;
    if (const auto* r = s.as_object().if_contains("replace"); r && r->is_bool()) e.replace = r->as_bool();
    if (const auto* kvs = s.as_object().if_contains("kvs"); kvs && kvs->is_object()) {
      for (const auto& kv : kvs->as_object()) {
        if (!kv.value().is_string()) return corrupt("value of " + std::string(kv.key()) + " is not a string");
        e.kvs[std::string(kv.key())] = std::string(kv.value().as_string());
      }
    }
    admin[id.value()] = std::move(e);
  }
  admin_ = std::move(admin);
  return ok();
}

result<void> config_layers::save(const std::map<section_id, admin_entry>& admin) const {
  json::array sections;
  for (const auto& [s, e] : admin) {
    json::object kvs;
    for (const auto& [k, v] : e.kvs) kvs[k] = v;
    sections.push_back(json::object{{"name", s.str()}, {"replace", e.replace}, {"kvs", std::move(kvs)}});
  }
  const std::string text =
      json::serialize(json::object{{"version", 1}, {"sections", std::move(sections)}}) + "\n";
  // 0600: the file holds SASL passwords and auth tokens.
  return fs::write_file_durable(path_, text, 0600);
}

std::map<section_id, kv_map> config_layers::merged(const std::map<section_id, admin_entry>& admin) const {
  std::map<section_id, kv_map> out;
  auto overlay = [&](const std::vector<config_section>& layer) {
    for (const auto& s : layer) {
      auto id = parse_section(s.name);
      if (!id) continue;
      auto& kvs = out[id.value()];
      for (const auto& [k, v] : s.kvs) kvs[k] = v;
    }
  };
  overlay(defaults_);
  overlay(file_);
  for (const auto& [s, e] : admin) {
    if (e.replace) {
      out.erase(s);
      if (e.kvs.empty()) continue;
    }
    auto& kvs = out[s];
    for (const auto& [k, v] : e.kvs) kvs[k] = v;
  }
  overlay(env_);
  return out;
}

std::map<section_id, kv_map> config_layers::effective() const {
  return merged(admin_);
}

std::vector<std::string> config_layers::invalid_names() const {
  std::vector<std::string> out;
  for (const auto* layer : {&defaults_, &file_, &env_}) {
    for (const auto& s : *layer) {
      if (auto id = parse_section(s.name); !id) out.push_back(s.name + ": " + id.error().message());
    }
  }
  return out;
}

result<void> config_layers::set(const section_id& s, const kv_map& kvs, bool builtin_available) {
  if (s.kind == target_kind::sluice && !builtin_available) {
    return fail(bad("the built-in target (notify_sluice) needs Sluice's Kafka side (kafka.enabled=true)"));
  }
  SLUICE_TRY(check_keys(s.kind, kvs));
  auto admin = admin_;
  auto& e = admin[s];
  for (const auto& [k, v] : kvs) e.kvs[k] = v;
  const auto all = merged(admin);
  auto it = all.find(s);
  SLUICE_TRY(validate_section(s.kind, it == all.end() ? kv_map{} : it->second));
  SLUICE_TRY(save(admin));
  admin_ = std::move(admin);
  return ok();
}

result<void> config_layers::reset(const section_id& s) {
  const auto all = effective();
  if (!all.contains(s) && !admin_.contains(s)) return fail(errc::unknown_target, "no section " + s.str());
  auto admin = admin_;
  bool lower_layers = false;
  for (const auto* layer : {&defaults_, &file_}) {
    for (const auto& c : *layer) {
      if (auto id = parse_section(c.name); id && id.value() == s) lower_layers = true;
    }
  }
  if (lower_layers) {
    admin[s] = admin_entry{true, {}};
  } else {
    admin.erase(s);
  }
  SLUICE_TRY(save(admin));
  admin_ = std::move(admin);
  return ok();
}

}  // namespace sluice::events
