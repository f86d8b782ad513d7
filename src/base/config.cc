#include "base/config.h"

#include <charconv>
#include <cstdlib>
#include <fstream>
#include <sstream>

SLUICE_ERRC_CATEGORY(sluice::config, "config",
                     case errc::unknown_key : return "unknown configuration key";
                     case errc::bad_value : return "bad configuration value";
                     case errc::bad_file : return "bad configuration file";)

namespace sluice::config {



const std::vector<key_info>& known_keys() {
  static const std::vector<key_info> keys = {
      {"data.dirs",
       "./data",
       "Drive folders, comma-separated, MinIO's ellipsis form allowed (`/data{1...8}`); also the "
       "positional arguments of `sluice server`. Two or more drives form erasure-coded sets.",
       {}},
      {"storage.parity",
       "",
       "Parity drives per erasure set, as a number or MinIO's `EC:N`; empty = MinIO's default "
       "for the set size (2-3 drives: 1, 4-5: 2, 6-7: 3, 8+: 4).",
       {"SLUICE_STORAGE_PARITY", "MINIO_STORAGE_CLASS_STANDARD"}},
      {"storage.drive.check.ms",
       "5000",
       "Erasure-coded drives: how often offline drives are retried and drive folders "
       "checked for replacement (an empty folder is formatted and fully healed); "
       "0 = only when a heal starts.",
       {}},
      {"s3.listeners", "0.0.0.0:9000", "Address the S3 API listens on (host:port).", {"SLUICE_ADDRESS"}},
      {"s3.domain",
       "",
       "Domain for virtual-host-style requests (`bucket.DOMAIN`); empty = path-style only.",
       {"SLUICE_DOMAIN", "MINIO_DOMAIN"}},
      {"s3.region",
       "us-east-1",
       "Region the server reports and expects in SigV4 scopes.",
       {"SLUICE_REGION", "MINIO_REGION"}},
      {"s3.max.connections", "1024", "Concurrent S3 connections; more are refused until one closes.", {}},
      {"s3.max.header.bytes", "65536", "Largest request header block accepted (431 beyond).", {}},
      {"s3.max.xml.bytes", "2097152", "Largest XML request body (DeleteObjects, Complete...).", {}},
      {"s3.max.object.size", "5TiB", "Largest object a single PUT may carry.", {}},
      {"s3.idle.timeout.ms", "60000", "A connection that sends nothing for this long is closed.", {}},
      {"s3.io.timeout.ms", "300000", "Longest wait for one read or write on a busy connection.", {}},
      {"s3.clock.skew.ms",
       "900000",
       "Largest clock difference accepted in signed requests (RequestTimeTooSkewed).",
       {}},
      {"s3.inline.bytes", "131072", "Objects up to this size are stored inline in their metadata file.", {}},
      {"s3.direct.io.bytes",
       "32MiB",
       "Bodies at least this large are written with direct I/O (one drive); smaller ones through the page "
       "cache.",
       {}},
      {"tls.certs.dir",
       "",
       "Folder with public.crt and private.key; when both exist the S3 port speaks HTTPS. "
       "Empty = `<first drive>/../certs` then `~/.sluice/certs`.",
       {"SLUICE_CERTS_DIR"}},
      {"root.user",
       "",
       "Root access key; generated on first start when unset.",
       {"SLUICE_ROOT_USER", "MINIO_ROOT_USER"}},
      {"root.password",
       "",
       "Root secret key (8+ characters); generated on first start when unset.",
       {"SLUICE_ROOT_PASSWORD", "MINIO_ROOT_PASSWORD"}},
      {"iam.user.*", "", "Extra users from the config file: `iam.user.<ACCESS_KEY>=<SECRET_KEY>`.", {}},
      {"log.level", "info", "trace, debug, info, warn, error.", {"SLUICE_LOG_LEVEL"}},
      // Bucket notifications (docs/NOTIFICATIONS.md).
      {"notify.outbox.limit.bytes",
       "1GiB",
       "Events waiting for delivery at most; at the limit, writes to buckets with rules, and reads whose "
       "events a rule wants, get 503 SlowDown.",
       {}},
      {"notify.queue.read.events",
       "false",
       "true: events of reads (s3:ObjectAccessed:*) are committed after the read is answered (GETs with such "
       "a rule ~3x faster; a crash can lose the last milliseconds of them); false: before, as every event.",
       {}},
      {"notify_kafka.*",
       "",
       "Kafka targets: `notify_kafka.<ID>.<key>=value` (MinIO's keys: brokers, topic, tls, sasl, ...); also "
       "`MINIO_NOTIFY_KAFKA_<KEY>_<ID>` and `sluice admin config set notify_kafka:<ID> key=value`.",
       {}},
      {"notify_webhook.*",
       "",
       "Webhook targets: `notify_webhook.<ID>.<key>=value` (endpoint, auth_token, ...).",
       {}},
      {"notify_sluice.*",
       "",
       "Built-in targets (this server's stream engine): `notify_sluice.<ID>.topic=...`; `notify_sluice:1` "
       "(topic bucket-events) exists by default.",
       {}},
      // Kafka API (Kafka's own names).
      {"kafka.enabled",
       "true",
       "Serve the Kafka API (the stream engine) beside S3.",
       {"SLUICE_KAFKA_ENABLED"}},
      {"listeners",
       "PLAINTEXT://:9092",
       "Kafka listener, `PLAINTEXT://host:port` (host empty = all interfaces).",
       {"SLUICE_KAFKA_LISTENERS"}},
      {"advertised.listeners",
       "",
       "Address clients are told to connect to, `PLAINTEXT://host:port`; empty = the listener's, with "
       "`localhost` "
       "for an empty or wildcard host.",
       {"SLUICE_KAFKA_ADVERTISED_LISTENERS"}},
      {"node.id", "1", "This broker's id.", {}},
      {"cluster.id",
       "",
       "Cluster id reported to clients and used in object keys; empty = the deployment id.",
       {}},
      {"num.partitions", "1", "Partitions of an auto-created topic or a CreateTopics with -1.", {}},
      {"auto.create.topics.enable", "true", "Create a topic when a client asks for its metadata.", {}},
      {"log.retention.ms", "604800000", "Default retention time of a topic (-1 = forever).", {}},
      {"log.retention.bytes", "-1", "Default size limit of a partition (-1 = none).", {}},
      {"message.max.bytes", "1048588", "Largest record batch a topic accepts by default.", {}},
      {"socket.request.max.bytes", "104857600", "Largest Kafka request frame.", {}},
      {"connections.max.idle.ms", "600000", "Kafka connections idle this long are closed.", {}},
      {"group.initial.rebalance.delay.ms",
       "3000",
       "Wait before the first rebalance of a new consumer group.",
       {}},
      {"group.min.session.timeout.ms", "6000", "Smallest consumer session timeout accepted.", {}},
      {"group.max.session.timeout.ms", "1800000", "Largest consumer session timeout accepted.", {}},
      {"offsets.retention.minutes", "10080", "Committed offsets of an empty group are kept this long.", {}},
      // Stream storage (AutoMQ's names where they exist).
      {"s3.wal.path",
       "",
       "WAL file or raw block device; empty = `<first drive>/.sluice.sys/stream/wal`.",
       {}},
      {"s3.wal.capacity", "1GiB", "Size of the WAL ring (a file is preallocated to it).", {}},
      {"s3.wal.cache.size",
       "256MiB",
       "Log cache: recent records for tail reads; bounds data awaiting upload. Produce buffers up to this "
       "size stay "
       "with the process once used (reused, not given back), and 16 MiB of them are faulted in at start.",
       {}},
      {"s3.block.cache.size", "128MiB", "Cache of data blocks read from objects (catch-up reads).", {}},
      {"s3.wal.upload.threshold", "64MiB", "Upload WAL data to objects when this much is waiting.", {}},
      {"s3.wal.upload.interval.ms", "5000", "... or when the oldest waiting record is this old.", {}},
      {"s3.wal.upload.pace",
       "2",
       "Uploads to this server's own object layer are written at this many times the rate their data came in "
       "(at least s3.wal.upload.pace.min per second), so the WAL's flushes on the same disk do not queue "
       "behind "
       "them; at full speed when more data waits. 0 = full speed always.",
       {}},
      {"s3.wal.upload.pace.min", "32MiB", "The slowest pace of an upload, per second.", {}},
      {"s3.stream.object.split.size",
       "8MiB",
       "A partition with this much in one upload gets an object of its own.",
       {}},
      {"s3.object.block.size", "512KiB", "Data block size inside stream objects.", {}},
      {"s3.object.part.size",
       "32MiB",
       "Stream objects larger than this are uploaded to an external S3 endpoint (`s3.url`) in parts of this "
       "size; "
       "this server's own object layer takes every stream object in one write.",
       {}},
      {"s3.stream.compaction.interval.ms", "60000", "How often compaction, retention and cleanup run.", {}},
      {"s3.object.delete.retention.ms",
       "60000",
       "Unreferenced objects are deleted after this grace period.",
       {}},
      {"s3.stream.bucket", "sluice-stream", "Bucket of the local object store that holds stream data.", {}},
      {"s3.stream.meta.path",
       "",
       "Stream metadata database; empty = `<first drive>/.sluice.sys/stream/meta.db`.",
       {}},
      {"s3.url",
       "",
       "AutoMQ-style s3url of an external S3 endpoint for stream data (`sluice s3url generate`); "
       "empty = this server's own object store.",
       {"SLUICE_S3_URL"}},
  };
  return keys;
}

namespace {
const key_info* find_key(const std::string& key) {
  for (const auto& k : known_keys()) {
    if (k.name == key) return &k;
    if (k.name.ends_with(".*") && key.size() > k.name.size() - 1 &&
        key.compare(0, k.name.size() - 1, k.name, 0, k.name.size() - 1) == 0) {
      return &k;
    }
  }
  return nullptr;
}
std::string trim(std::string s) {
  size_t b = s.find_first_not_of(" \t\r");
  size_t e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}
}  // namespace

settings::settings() {
  for (const auto& k : known_keys()) {
    if (!k.name.ends_with(".*")) values_[k.name] = k.default_value;
  }
}

result<void> settings::load_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return fail(errc::bad_file, "cannot read config file " + path);
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    line = trim(line);
    if (line.empty() || line[0] == '#' || line[0] == '!') continue;
    size_t eq = line.find_first_of("=:");
    if (eq == std::string::npos) {
      return fail(errc::bad_file, path + ":" + std::to_string(lineno) + ": expected key=value");
    }
    auto r = set(trim(line.substr(0, eq)), trim(line.substr(eq + 1)));
    if (!r) return fail(r.error().code(), path + ":" + std::to_string(lineno) + ": " + r.error().message());
  }
  return ok();
}

result<void> settings::set(const std::string& key, const std::string& value) {
  if (!find_key(key)) return fail(errc::unknown_key, "unknown configuration key '" + key + "'");
  values_[key] = value;
  explicit_[key] = true;
  return ok();
}

void settings::apply_env() {
  for (const auto& k : known_keys()) {
    for (const auto& env : k.env) {
      if (const char* v = std::getenv(env.c_str()); v && *v) {
        values_[k.name] = v;
        explicit_[k.name] = true;
        break;
      }
    }
  }
}

std::string settings::get(const std::string& key) const {
  auto it = values_.find(key);
  return it == values_.end() ? std::string() : it->second;
}

result<int64_t> settings::get_int(const std::string& key) const {
  std::string v = get(key);
  try {
    size_t pos = 0;
    int64_t n = std::stoll(v, &pos);
    if (pos == v.size()) return n;
  } catch (const std::exception&) {
  }
  return fail(errc::bad_value, key + ": expected an integer, got '" + v + "'");
}

result<bool> settings::get_bool(const std::string& key) const {
  std::string v = get(key);
  if (v == "true" || v == "on" || v == "1" || v == "yes") return true;
  if (v == "false" || v == "off" || v == "0" || v == "no" || v.empty()) return false;
  return fail(errc::bad_value, key + ": expected true/false, got '" + v + "'");
}

result<uint64_t> parse_bytes(const std::string& text) {
  std::string v = trim(text);
  size_t i = 0;
  while (i < v.size() && (std::isdigit(static_cast<unsigned char>(v[i])) || v[i] == '.')) ++i;
  if (i == 0) return fail(errc::bad_value, "expected a size, got '" + text + "'");
  double n = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + i, n);
  if (ec != std::errc() || end != v.data() + i)
    return fail(errc::bad_value, "expected a size, got '" + text + "'");
  std::string unit = trim(v.substr(i));
  for (auto& c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  double mult = 1;
  if (unit.empty() || unit == "B") mult = 1;
  else if (unit == "K" || unit == "KB" || unit == "KIB") mult = 1024.0;
  else if (unit == "M" || unit == "MB" || unit == "MIB") mult = 1024.0 * 1024;
  else if (unit == "G" || unit == "GB" || unit == "GIB") mult = 1024.0 * 1024 * 1024;
  else if (unit == "T" || unit == "TB" || unit == "TIB") mult = 1024.0 * 1024 * 1024 * 1024;
  else return fail(errc::bad_value, "unknown size unit in '" + text + "'");
  const double bytes = n * mult;
  if (!(bytes < 18446744073709551616.0)) return fail(errc::bad_value, "size too large: '" + text + "'");
  return static_cast<uint64_t>(bytes);
}

result<uint64_t> settings::get_bytes(const std::string& key) const {
  auto r = parse_bytes(get(key));
  if (!r) return fail(errc::bad_value, key + ": " + r.error().message());
  return r;
}

result<std::chrono::milliseconds> settings::get_ms(const std::string& key) const {
  SLUICE_TRY(int64_t n, get_int(key));
  return std::chrono::milliseconds(n);
}

std::map<std::string, std::string> settings::family(const std::string& prefix) const {
  std::map<std::string, std::string> out;
  for (auto it = values_.lower_bound(prefix); it != values_.end() && it->first.starts_with(prefix); ++it) {
    out[it->first.substr(prefix.size())] = it->second;
  }
  return out;
}

std::string markdown_table() {
  std::ostringstream out;
  out << "| key | default | environment | meaning |\n|---|---|---|---|\n";
  for (const auto& k : known_keys()) {
    std::string env;
    for (const auto& e : k.env) env += (env.empty() ? "" : ", ") + ("`" + e + "`");
    out << "| `" << k.name << "` | " << (k.default_value.empty() ? "" : "`" + k.default_value + "`") << " | " << env
        << " | " << k.help << " |\n";
  }
  return out.str();
}

}  // namespace sluice::config
