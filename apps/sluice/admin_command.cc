#include <boost/json.hpp>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <iostream>
#include <pugixml.hpp>
#include <sstream>
#include <thread>

#include "apps/sluice/commands.h"
#include "base/crypto.h"
#include "base/encoding.h"
#include "base/fs.h"
#include "http/client.h"
#include "net/stream.h"
#include "s3/auth/sigv4.h"

namespace sluice::app {

namespace {

namespace json = boost::json;

struct admin_args {
  std::string endpoint = "http://127.0.0.1:9000";
  std::string access_key;
  std::string secret_key;
  std::string data_dir = "./data";
  std::string region = "us-east-1";
  bool insecure = false;  // https: accept any certificate (self-signed, as mc --insecure)
  std::string ca_file;    // https: trust only this CA bundle (PEM)
  bool json = false;  // print the server's JSON answer instead of text
  int poll_ms = 500;  // heal: how often to ask for progress
  std::vector<std::string> events;  // event add: event names (default s3:ObjectCreated:*)
  std::string prefix, suffix;       // event add: key filter
  std::vector<std::string> words;
};

int fail_with(const std::string& msg, int code = 1) {
  std::cerr << "sluice admin: " << msg << "\n";
  return code;
}

// Root credentials: flags, then environment, then the file a local server generated.
bool resolve_credentials(admin_args& a) {
  if (a.access_key.empty()) {
    for (const char* env : {"SLUICE_ROOT_USER", "MINIO_ROOT_USER"}) {
      if (const char* v = std::getenv(env); v && *v) {
        a.access_key = v;
        break;
      }
    }
  }
  if (a.secret_key.empty()) {
    for (const char* env : {"SLUICE_ROOT_PASSWORD", "MINIO_ROOT_PASSWORD"}) {
      if (const char* v = std::getenv(env); v && *v) {
        a.secret_key = v;
        break;
      }
    }
  }
  if (a.access_key.empty() || a.secret_key.empty()) {
    auto bytes = fs::read_file(fs::join(a.data_dir, ".sluice.sys/iam/root-credentials.json"));
    if (bytes) {
      boost::system::error_code ec;
      auto v = json::parse(bytes.value(), ec);
      const auto* ak = !ec && v.is_object() ? v.as_object().if_contains("access_key") : nullptr;
      const auto* sk = !ec && v.is_object() ? v.as_object().if_contains("secret_key") : nullptr;
      if (ak && sk && ak->is_string() && sk->is_string()) {
        a.access_key = std::string(ak->as_string());
        a.secret_key = std::string(sk->as_string());
      }
    }
  }
  return !a.access_key.empty() && !a.secret_key.empty();
}

result<http::client_response> call(const admin_args& a, const std::string& method, const std::string& path,
                                   const std::string& query, const std::string& body) {
  std::string ep = a.endpoint;
  const bool tls = ep.starts_with("https://");
  if (tls) {
    ep = ep.substr(8);
  } else if (ep.starts_with("http://")) {
    ep = ep.substr(7);
  }
  if (!ep.empty() && ep.back() == '/') ep.pop_back();
  auto colon = ep.rfind(':');
  std::string host = colon == std::string::npos ? ep : ep.substr(0, colon);
  uint16_t port = tls ? 443 : 80;
  if (colon != std::string::npos) {
    const std::string_view digits = std::string_view(ep).substr(colon + 1);
    unsigned p = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), p);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || p == 0 || p > 65535) {
      return fail(std::make_error_code(std::errc::invalid_argument),
                  "bad --endpoint '" + a.endpoint + "': the port must be a number from 1 to 65535");
    }
    port = static_cast<uint16_t>(p);
  }
  std::string host_header = host + ":" + std::to_string(port);
  s3::auth::sign_input in;
  in.method = method;
  in.raw_path = path;
  in.raw_query = query;
  in.headers = {{"host", host_header}};
  in.payload_sha256 = sha256_hex(body);
  in.access_key = a.access_key;
  in.secret_key = a.secret_key;
  in.region = a.region;
  in.now = std::chrono::system_clock::now();
  std::vector<std::pair<std::string, std::string>> headers{{"Host", host_header}};
  for (auto& h : s3::auth::sign(in)) headers.push_back(h);
  std::shared_ptr<net::tls_context> ctx;
  if (tls) {
    // Verified against the system's CAs, or only --ca-file; --insecure accepts any certificate.
    auto c = net::tls_context::client(!a.insecure, a.ca_file);
    if (!c) return fail(c.error());
    ctx = std::move(c).value();
  }
  http::connection conn(host, port, std::chrono::seconds(60), ctx);
  return conn.request(method, path + (query.empty() ? "" : "?" + query), headers, body);
}

std::string xml_element(const std::string& body, const std::string& name) {
  auto b = body.find("<" + name + ">"), e = body.find("</" + name + ">");
  if (b == std::string::npos || e == std::string::npos || e < b) return {};
  std::string text = body.substr(b + name.size() + 2, e - b - name.size() - 2);
  // The five predefined entities (messages quote names: 'brokers').
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    bool replaced = false;
    for (auto [entity, ch] :
         {std::pair{"&apos;", '\''}, {"&quot;", '"'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&amp;", '&'}}) {
      if (text.compare(i, std::strlen(entity), entity) == 0) {
        out += ch;
        i += std::strlen(entity) - 1;
        replaced = true;
        break;
      }
    }
    if (!replaced) out += text[i];
  }
  return out;
}

// "server answered 404 NoSuchBucket: The specified bucket does not exist" from an S3 XML error.
std::string describe_answer(const http::client_response& r) {
  const std::string code = xml_element(r.body, "Code");
  if (code.empty()) return "server answered " + std::to_string(r.status) + ": " + r.body;
  return "server answered " + std::to_string(r.status) + " " + code + ": " + xml_element(r.body, "Message");
}

int check(const result<http::client_response>& r, int ok_status) {
  if (!r) return fail_with("cannot reach the server: " + r.error().message());
  if (static_cast<int>(r.value().status) != ok_status) return fail_with(describe_answer(r.value()));
  return 0;
}

std::string human_bytes(uint64_t b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(b);
  int u = 0;
  while (v >= 1024 && u < 5) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

uint64_t num(const json::object& o, std::string_view k) {
  const auto* v = o.if_contains(k);
  return v && v->is_number() ? v->to_number<uint64_t>() : 0;
}
std::string str(const json::object& o, std::string_view k) {
  const auto* v = o.if_contains(k);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::string plural(uint64_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

std::string heal_scope(const json::object& h) {
  const std::string b = str(h, "bucket");
  if (b.empty()) return "every bucket";
  const std::string p = str(h, "prefix");
  return p.empty() ? b : b + "/" + p;
}

std::string heal_counts(const json::object& h) {
  return plural(num(h, "objects_scanned"), "object", "objects") + " scanned, " +
         std::to_string(num(h, "objects_healed")) + " healed (" +
         plural(num(h, "shards_written"), "shard copy", "shard copies") + " rewritten), " +
         std::to_string(num(h, "failed")) + " failed";
}

void print_info(const json::object& o) {
  const std::string backend = str(o, "backend");
  std::cout << "Deployment: " << str(o, "deployment_id") << "\nRegion: " << str(o, "region") << "\n";
  if (backend == "erasure") {
    std::cout << "Erasure sets: " << num(o, "sets") << ", drives per set: " << num(o, "drives_per_set")
              << ", parity: " << str(o, "standard_storage_class") << " (standard storage class)\n";
  } else {
    std::cout << "Single drive: 1 set of 1 drive, no parity (" << str(o, "standard_storage_class") << ")\n";
  }
  std::cout << "Drives: " << num(o, "drives_online") << " online, " << num(o, "drives_offline") << " offline";
  if (num(o, "drives_healing")) std::cout << ", " << num(o, "drives_healing") << " healing";
  std::cout << "\nSpace: " << human_bytes(num(o, "used_bytes")) << " used, "
            << human_bytes(num(o, "free_bytes")) << " free of " << human_bytes(num(o, "total_bytes")) << "\n";
  const bool complete = !o.if_contains("usage_complete") || o.at("usage_complete").as_bool();
  std::cout << (complete ? "" : "at least ") << plural(num(o, "objects"), "object", "objects") << " ("
            << human_bytes(num(o, "object_bytes")) << ") in "
            << plural(num(o, "buckets"), "bucket", "buckets")
            << (complete ? "" : " (counting stopped at its time limit)") << "\n";
  const json::array* sets = o.if_contains("erasure_sets") ? &o.at("erasure_sets").as_array() : nullptr;
  const json::array& drives = o.at("drives").as_array();
  const size_t set_count = sets ? sets->size() : 1;
  for (size_t i = 0; i < set_count; ++i) {
    if (sets) {
      const auto& so = (*sets)[i].as_object();
      std::cout << "Set " << i + 1 << ": " << num(so, "drives_online") << "/"
                << num(so, "drives_online") + num(so, "drives_offline") << " drives online\n";
    }
    for (const auto& d : drives) {
      const auto& dd = d.as_object();
      if (sets && num(dd, "set") != i) continue;
      std::cout << "  " << str(dd, "path") << "  " << str(dd, "state");
      if (dd.if_contains("healing") && dd.at("healing").as_bool()) std::cout << " (healing)";
      if (str(dd, "state") == "online") {
        std::cout << "  " << human_bytes(num(dd, "free_bytes")) << " free of "
                  << human_bytes(num(dd, "total_bytes"));
      }
      std::cout << "\n";
    }
  }
  if (const auto* h = o.if_contains("heal"); h && h->is_object() && num(h->as_object(), "id")) {
    const auto& ho = h->as_object();
    std::cout << "Last heal: #" << num(ho, "id") << " " << str(ho, "state") << " (" << str(ho, "reason")
              << ", " << heal_scope(ho) << "): " << heal_counts(ho) << "\n";
  }
  if (o.if_contains("heal_backlog"))
    std::cout << "Heal queue: " << plural(num(o, "heal_backlog"), "object", "objects") << "\n";
}

result<json::object> get_heal(const admin_args& a, uint64_t id) {
  auto r = call(a, "GET", "/sluice/admin/v1/heal", id ? "id=" + std::to_string(id) : "", "");
  if (!r) return fail(r.error());
  if (r.value().status != 200)
    return fail(std::make_error_code(std::errc::protocol_error), describe_answer(r.value()));
  boost::system::error_code ec;
  auto v = json::parse(r.value().body, ec);
  if (ec || !v.is_object())
    return fail(std::make_error_code(std::errc::protocol_error), "bad answer: " + r.value().body);
  return v.as_object();
}

// `heal [BUCKET[/PREFIX]]`: starts a heal sequence (waiting first for one
// that runs), prints its progress and summary. Exit 0 when it finished with
// no object left unhealed.
int run_heal(const admin_args& a, const std::string& target) {
  std::string bucket = target, prefix;
  if (auto slash = target.find('/'); slash != std::string::npos) {
    bucket = target.substr(0, slash);
    prefix = target.substr(slash + 1);
  }
  std::ostream& progress = a.json ? std::cerr : std::cout;
  const auto poll = std::chrono::milliseconds(a.poll_ms);
  const std::string query = bucket.empty() ? std::string()
                                           : "bucket=" + uri_encode(bucket) +
                                                 (prefix.empty() ? "" : "&prefix=" + uri_encode(prefix));
  uint64_t id = 0;
  for (;;) {
    auto r = call(a, "POST", "/sluice/admin/v1/heal", query, "");
    if (!r) return fail_with("cannot reach the server: " + r.error().message());
    if (r.value().status == 202) {
      boost::system::error_code ec;
      auto v = json::parse(r.value().body, ec);
      if (ec || !v.is_object()) return fail_with("bad answer: " + r.value().body);
      id = num(v.as_object(), "id");
      break;
    }
    if (r.value().status != 409 || xml_element(r.value().body, "Code") != "XSluiceHealAlreadyRunning") {
      return fail_with(describe_answer(r.value()));
    }
    auto running = get_heal(a, 0);
    if (!running) return fail_with(running.error().message());
    progress << "Waiting for heal #" << num(running.value(), "id") << " (" << str(running.value(), "reason")
             << ", " << heal_scope(running.value()) << ") to finish: " << heal_counts(running.value())
             << std::endl;
    std::this_thread::sleep_for(std::max(poll, std::chrono::milliseconds(1000)));
  }
  progress << "Heal #" << id << " of " << (bucket.empty() ? "every bucket" : target) << " started"
           << std::endl;
  const auto begun = std::chrono::steady_clock::now();
  auto last_print = begun;
  std::string last_counts;
  for (;;) {
    auto h = get_heal(a, id);
    if (!h) return fail_with(h.error().message());
    const auto& o = h.value();
    const std::string state = str(o, "state");
    const auto now = std::chrono::steady_clock::now();
    const double secs = std::chrono::duration<double>(now - begun).count();
    if (state != "running") {
      char took[32];
      std::snprintf(took, sizeof took, "%.1f s", secs);
      if (a.json) {
        std::cout << json::serialize(o) << "\n";
      } else {
        std::cout << "Heal #" << id << " " << state << " after " << took << ": " << heal_counts(o) << "\n";
        if (!str(o, "error").empty()) std::cout << "Error: " << str(o, "error") << "\n";
      }
      return state == "done" && num(o, "failed") == 0 ? 0 : 1;
    }
    const std::string counts = heal_counts(o);
    if (counts != last_counts && now - last_print >= std::chrono::seconds(1)) {
      progress << "  " << counts << std::endl;
      last_counts = counts;
      last_print = now;
    }
    // Short sequences finish within a second: look more often at first.
    std::this_thread::sleep_for(secs < 2 ? std::min(poll, std::chrono::milliseconds(100)) : poll);
  }
}

// key=value as mc prints it: quoted when the value has spaces or quotes.
std::string config_pair(const std::string& k, const std::string& v) {
  if (v.find_first_of(" \t\"") == std::string::npos) return k + "=" + v;
  std::string q;
  for (char ch : v) {
    if (ch == '"' || ch == '\\') q += '\\';
    q += ch;
  }
  return k + "=\"" + q + "\"";
}

// Runs an admin call answering a JSON object. With --json the answer is
// printed as it is; otherwise `show` gets the object, which must have
// `field` (when given).
int show_json(const admin_args& a, const std::string& method, const std::string& path, const std::string& body,
              int ok_status, std::string_view field, const std::function<void(const json::object&)>& show) {
  auto r = call(a, method, path, "", body);
  if (int rc = check(r, ok_status)) return rc;
  if (a.json) {
    std::cout << r.value().body;
    return 0;
  }
  boost::system::error_code ec;
  auto v = json::parse(r.value().body, ec);
  if (ec || !v.is_object() || (!field.empty() && !v.as_object().if_contains(field))) {
    return fail_with("bad answer: " + r.value().body);
  }
  show(v.as_object());
  return 0;
}

// {"sections":[{"name":…,"kvs":{…}}]} as `notify_kafka:1 brokers=… topic=…` lines.
void print_sections(const json::object& o) {
  for (const auto& s : o.at("sections").as_array()) {
    const auto& so = s.as_object();
    std::cout << str(so, "name");
    if (const auto* kvs = so.if_contains("kvs"); kvs && kvs->is_object()) {
      for (const auto& kv : kvs->as_object()) {
        const std::string value = kv.value().is_string() ? std::string(kv.value().as_string()) : "";
        std::cout << " " << config_pair(std::string(kv.key()), value);
      }
    }
    std::cout << "\n";
  }
}

// `config set SECTION key=value…`, `config get SUBSYS[:ID]`, `config reset SECTION`.
int run_config(const admin_args& a) {
  const auto& w = a.words;
  const std::string path = "/sluice/admin/v1/config/" + uri_encode(w[2]);
  if (w[1] == "get" && w.size() == 3) return show_json(a, "GET", path, "", 200, "sections", print_sections);
  if (w[1] == "set" && w.size() >= 4) {
    json::object body;
    for (size_t i = 3; i < w.size(); ++i) {
      const auto eq = w[i].find('=');
      if (eq == std::string::npos || eq == 0) return fail_with("'" + w[i] + "' is not key=value", 2);
      body[w[i].substr(0, eq)] = w[i].substr(eq + 1);
    }
    return show_json(a, "PUT", path, json::serialize(body), 200, "sections", [](const json::object& o) {
      std::cout << "Applied (no restart needed):\n";
      print_sections(o);
    });
  }
  if (w[1] == "reset" && w.size() == 3) {
    auto r = call(a, "DELETE", path, "", "");
    if (int rc = check(r, 204)) return rc;
    std::cout << "Removed " << w[2] << " (its undelivered events are kept until it is configured again)\n";
    return 0;
  }
  return fail_with("use: config set SECTION KEY=VALUE... | config get SUBSYSTEM[:ID] | config reset SECTION", 2);
}

// `notify list`: the notification targets with their state, as a table.
void print_targets(const json::object& o) {
  std::vector<std::vector<std::string>> rows = {
      {"ARN", "TYPE", "ENDPOINT", "STATE", "QUEUED", "DELIVERED", "LAST ERROR"}};
  for (const auto& t : o.at("targets").as_array()) {
    const auto& to = t.as_object();
    rows.push_back({str(to, "arn"), str(to, "type"), str(to, "endpoint"), str(to, "state"),
                    std::to_string(num(to, "queued")), std::to_string(num(to, "delivered")), str(to, "last_error")});
  }
  if (rows.size() == 1) {
    std::cout << "No notification targets.\n";
    return;
  }
  std::vector<size_t> width(rows[0].size(), 0);
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    std::cout << line << "\n";
  }
}

// ---------------------------------------------------------------- buckets and event rules (as mc mb / mc event)

int bucket_add(const admin_args& a, const std::vector<std::string>& buckets) {
  for (const auto& b : buckets) {
    auto r = call(a, "PUT", "/" + uri_encode(b), "", "");
    if (!r) return fail_with("cannot reach the server: " + r.error().message());
    if (r.value().status == 409 &&
        xml_element(r.value().body, "Code") == "BucketAlreadyOwnedByYou") {
      std::cout << "Bucket " << b << " already exists\n";
      continue;
    }
    if (int rc = check(r, 200)) return rc;
    std::cout << "Created bucket " << b << "\n";
  }
  return 0;
}

int bucket_list(const admin_args& a) {
  auto r = call(a, "GET", "/", "", "");
  if (int rc = check(r, 200)) return rc;
  pugi::xml_document doc;
  if (!doc.load_string(r.value().body.c_str())) return fail_with("the server's bucket list does not parse");
  for (auto b : doc.child("ListAllMyBucketsResult").child("Buckets").children("Bucket")) {
    std::cout << b.child_value("CreationDate") << "  " << b.child_value("Name") << "\n";
  }
  return 0;
}

// Loads the bucket's notification document (an empty one when it has none) into doc; 0 or the exit code.
int load_rules(const admin_args& a, const std::string& bucket, pugi::xml_document& doc) {
  auto r = call(a, "GET", "/" + uri_encode(bucket), "notification=", "");
  if (int rc = check(r, 200)) return rc;
  if (!doc.load_string(r.value().body.c_str())) return fail_with("the bucket's notification rules do not parse");
  return 0;
}

int put_rules(const admin_args& a, const std::string& bucket, const pugi::xml_document& doc) {
  std::ostringstream out;
  doc.save(out, "", pugi::format_raw | pugi::format_no_declaration);
  auto r = call(a, "PUT", "/" + uri_encode(bucket), "notification=", out.str());
  return check(r, 200);
}

int event_add(const admin_args& a, const std::string& bucket, const std::string& arn) {
  pugi::xml_document doc;
  if (int rc = load_rules(a, bucket, doc)) return rc;
  auto root = doc.child("NotificationConfiguration");
  if (!root) {
    root = doc.append_child("NotificationConfiguration");
    root.append_attribute("xmlns") = "http://s3.amazonaws.com/doc/2006-03-01/";
  }
  auto q = root.append_child("QueueConfiguration");
  const std::string id = "sluice-" + random_token(8);
  q.append_child("Id").text() = id.c_str();
  q.append_child("Queue").text() = arn.c_str();
  std::vector<std::string> names = a.events.empty() ? std::vector<std::string>{"s3:ObjectCreated:*"} : a.events;
  for (auto n : names) {
    // mc's short names; anything else is sent as given (the server validates it).
    if (n == "put") n = "s3:ObjectCreated:*";
    if (n == "delete") n = "s3:ObjectRemoved:*";
    if (n == "get") n = "s3:ObjectAccessed:*";
    q.append_child("Event").text() = n.c_str();
  }
  if (!a.prefix.empty() || !a.suffix.empty()) {
    auto key = q.append_child("Filter").append_child("S3Key");
    for (auto [name, value] : {std::pair{"prefix", &a.prefix}, std::pair{"suffix", &a.suffix}}) {
      if (value->empty()) continue;
      auto f = key.append_child("FilterRule");
      f.append_child("Name").text() = name;
      f.append_child("Value").text() = value->c_str();
    }
  }
  if (int rc = put_rules(a, bucket, doc)) return rc;
  std::cout << "Added rule " << id << ": " << bucket << " → " << arn << "\n";
  return 0;
}

int event_list(const admin_args& a, const std::string& bucket) {
  pugi::xml_document doc;
  if (int rc = load_rules(a, bucket, doc)) return rc;
  bool any = false;
  for (auto q : doc.child("NotificationConfiguration").children("QueueConfiguration")) {
    any = true;
    std::string events, filter;
    for (auto e : q.children("Event")) events += (events.empty() ? "" : ",") + std::string(e.child_value());
    for (auto f : q.child("Filter").child("S3Key").children("FilterRule")) {
      filter += std::string(filter.empty() ? "" : " ") + f.child_value("Name") + "=" + f.child_value("Value");
    }
    std::cout << q.child_value("Queue") << "  " << events << (filter.empty() ? "" : "  " + filter) << "  (id "
              << q.child_value("Id") << ")\n";
  }
  if (!any) std::cout << "No event rules on " << bucket << ".\n";
  return 0;
}

int event_remove(const admin_args& a, const std::string& bucket, const std::string& arn) {
  pugi::xml_document doc;
  if (int rc = load_rules(a, bucket, doc)) return rc;
  auto root = doc.child("NotificationConfiguration");
  int removed = 0;
  for (auto q = root.child("QueueConfiguration"); q;) {
    auto next = q.next_sibling("QueueConfiguration");
    if (arn.empty() || arn == q.child_value("Queue")) {
      root.remove_child(q);
      ++removed;
    }
    q = next;
  }
  if (removed == 0) return fail_with(arn.empty() ? "no event rules on " + bucket : "no rule of " + bucket + " names " + arn);
  if (int rc = put_rules(a, bucket, doc)) return rc;
  std::cout << "Removed " << removed << " rule" << (removed == 1 ? "" : "s") << " from " << bucket << "\n";
  return 0;
}

int run_admin(admin_args a) {
  if (a.words.empty())
    return fail_with(
        "missing command: info | heal [BUCKET[/PREFIX]] | user add|remove|list | config set|get|reset | notify list "
        "| bucket add|list | event add|list|remove",
        2);
  if (!resolve_credentials(a)) {
    return fail_with("no root credentials: pass --access-key/--secret-key, set SLUICE_ROOT_USER/SLUICE_ROOT_PASSWORD, "
                     "or --data pointing at the server's drive", 2);
  }
  const auto& w = a.words;
  if (w[0] == "info" && w.size() == 1) return show_json(a, "GET", "/sluice/admin/v1/info", "", 200, "", print_info);
  if (w[0] == "heal" && w.size() <= 2) return run_heal(a, w.size() == 2 ? w[1] : std::string());
  if (w[0] == "config" && w.size() >= 3) return run_config(a);
  if (w[0] == "notify" && w.size() == 2 && w[1] == "list") {
    return show_json(a, "GET", "/sluice/admin/v1/notify/targets", "", 200, "targets", print_targets);
  }
  if (w[0] == "bucket" && w.size() >= 3 && w[1] == "add") return bucket_add(a, {w.begin() + 2, w.end()});
  if (w[0] == "bucket" && w.size() == 2 && w[1] == "list") return bucket_list(a);
  if (w[0] == "event" && w.size() == 4 && w[1] == "add") return event_add(a, w[2], w[3]);
  if (w[0] == "event" && w.size() == 3 && w[1] == "list") return event_list(a, w[2]);
  if (w[0] == "event" && (w.size() == 3 || w.size() == 4) && w[1] == "remove") {
    return event_remove(a, w[2], w.size() == 4 ? w[3] : std::string());
  }
  if (w[0] == "user" && w.size() >= 2) {
    if (w[1] == "list") {
      auto r = call(a, "GET", "/sluice/admin/v1/users", "", "");
      if (int rc = check(r, 200)) return rc;
      auto v = json::parse(r.value().body);
      for (const auto& u : v.at("users").as_array()) {
        std::cout << u.at("access_key").as_string().c_str() << (u.at("root").as_bool() ? "  (root)" : "")
                  << (u.at("from_config").as_bool() && !u.at("root").as_bool() ? "  (config file)" : "") << "\n";
      }
      return 0;
    }
    if (w[1] == "add" && w.size() == 4) {
      json::object body{{"secretKey", w[3]}};
      auto r = call(a, "PUT", "/sluice/admin/v1/users", "accessKey=" + uri_encode(w[2]), json::serialize(body));
      if (int rc = check(r, 200)) return rc;
      std::cout << "Added user " << w[2] << "\n";
      return 0;
    }
    if (w[1] == "remove" && w.size() == 3) {
      auto r = call(a, "DELETE", "/sluice/admin/v1/users", "accessKey=" + uri_encode(w[2]), "");
      if (int rc = check(r, 204)) return rc;
      std::cout << "Removed user " << w[2] << "\n";
      return 0;
    }
  }
  return fail_with(
      "unknown command; use: info | heal [BUCKET[/PREFIX]] | user add ACCESS_KEY SECRET_KEY | user remove "
      "ACCESS_KEY | user list | config set SECTION KEY=VALUE... | config get SUBSYSTEM[:ID] | config reset SECTION "
      "| notify list | bucket add BUCKET... | bucket list | event add BUCKET ARN [--event E]... [--prefix P] "
      "[--suffix S] | event list BUCKET | event remove BUCKET [ARN]",
      2);
}

}  // namespace

void add_admin_command(CLI::App& app) {
  auto args = std::make_shared<admin_args>();
  auto* cmd = app.add_subcommand(
      "admin", "Administer a running server: info, heal, user add|remove|list, config set|get|reset, notify list.");
  cmd->add_option("--endpoint", args->endpoint, "Server URL")->envname("SLUICE_ENDPOINT")->capture_default_str();
  cmd->add_option("--access-key", args->access_key, "Root access key (default: $SLUICE_ROOT_USER)");
  cmd->add_option("--secret-key", args->secret_key, "Root secret key (default: $SLUICE_ROOT_PASSWORD)");
  cmd->add_option("--data", args->data_dir, "Drive folder of a local server, to read generated root credentials")
      ->capture_default_str();
  cmd->add_option("--region", args->region, "Region")->capture_default_str();
  cmd->add_flag("--insecure", args->insecure, "https endpoints: accept any certificate (e.g. self-signed)");
  cmd->add_option("--ca-file", args->ca_file, "https endpoints: trust only the CAs in this PEM file");
  cmd->add_flag("--json", args->json,
                "info, heal, config, notify list: print the server's JSON answer (heal: the final status)");
  cmd->add_option("--poll-ms", args->poll_ms, "heal: milliseconds between progress checks")
      ->check(CLI::Range(10, 60000))
      ->capture_default_str();
  cmd->add_option("--event", args->events, "event add: an event name (repeatable; default s3:ObjectCreated:*)");
  cmd->add_option("--prefix", args->prefix, "event add: only keys with this prefix");
  cmd->add_option("--suffix", args->suffix, "event add: only keys with this suffix");
  cmd->add_option(
      "command", args->words,
      "info | heal [BUCKET[/PREFIX]] | user add ACCESS_KEY SECRET_KEY | user remove ACCESS_KEY | user list | "
      "config set SECTION KEY=VALUE... | config get SUBSYSTEM[:ID] | config reset SECTION | notify list | "
      "bucket add BUCKET... | bucket list | event add BUCKET ARN | event list BUCKET | event remove BUCKET [ARN]");
  cmd->callback([args] { set_exit_code(run_admin(*args)); });
}

}  // namespace sluice::app
