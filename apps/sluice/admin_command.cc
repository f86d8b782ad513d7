#include <boost/json.hpp>
#include <iostream>

#include "apps/sluice/commands.h"
#include "base/crypto.h"
#include "base/encoding.h"
#include "base/fs.h"
#include "http/client.h"
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
      if (!ec && v.is_object()) {
        a.access_key = std::string(v.at("access_key").as_string());
        a.secret_key = std::string(v.at("secret_key").as_string());
      }
    }
  }
  return !a.access_key.empty() && !a.secret_key.empty();
}

result<http::client_response> call(const admin_args& a, const std::string& method, const std::string& path,
                                   const std::string& query, const std::string& body) {
  std::string ep = a.endpoint;
  if (ep.starts_with("https://")) return fail(std::make_error_code(std::errc::protocol_not_supported),
                                              "https endpoints are not supported by the admin CLI yet");
  if (ep.starts_with("http://")) ep = ep.substr(7);
  if (!ep.empty() && ep.back() == '/') ep.pop_back();
  auto colon = ep.rfind(':');
  std::string host = colon == std::string::npos ? ep : ep.substr(0, colon);
  uint16_t port = colon == std::string::npos ? 80 : static_cast<uint16_t>(std::stoi(ep.substr(colon + 1)));
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
  http::client_request req;
  req.method = method;
  req.host = host;
  req.port = port;
  req.target = path + (query.empty() ? "" : "?" + query);
  req.headers = {{"Host", host_header}};
  for (auto& h : s3::auth::sign(in)) req.headers.push_back(h);
  req.body = body;
  return http::send_request(req);
}

int check(const result<http::client_response>& r, int ok_status) {
  if (!r) return fail_with("cannot reach the server: " + r.error().message());
  if (static_cast<int>(r.value().status) != ok_status) {
    return fail_with("server answered " + std::to_string(r.value().status) + ": " + r.value().body);
  }
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

int run_admin(admin_args a) {
  if (a.words.empty()) return fail_with("missing command: info | user add|remove|list", 2);
  if (!resolve_credentials(a)) {
    return fail_with("no root credentials: pass --access-key/--secret-key, set SLUICE_ROOT_USER/SLUICE_ROOT_PASSWORD, "
                     "or --data pointing at the server's drive", 2);
  }
  const auto& w = a.words;
  if (w[0] == "info") {
    auto r = call(a, "GET", "/sluice/admin/v1/info", "", "");
    if (int rc = check(r, 200)) return rc;
    auto v = json::parse(r.value().body);
    const auto& o = v.as_object();
    std::cout << "Deployment: " << o.at("deployment_id").as_string().c_str() << "\nRegion: " << o.at("region").as_string().c_str()
              << "\nBuckets: " << o.at("buckets").to_number<uint64_t>() << "\nDrives:\n";
    for (const auto& d : o.at("drives").as_array()) {
      const auto& dd = d.as_object();
      std::cout << "  " << dd.at("path").as_string().c_str() << "  " << dd.at("state").as_string().c_str() << "  "
                << human_bytes(dd.at("free_bytes").to_number<uint64_t>()) << " free of "
                << human_bytes(dd.at("total_bytes").to_number<uint64_t>()) << "\n";
    }
    return 0;
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
  return fail_with("unknown command; use: info | user add ACCESS_KEY SECRET_KEY | user remove ACCESS_KEY | user list", 2);
}

}  // namespace

void add_admin_command(CLI::App& app) {
  auto args = std::make_shared<admin_args>();
  auto* cmd = app.add_subcommand("admin", "Administer a running server: info, user add|remove|list.");
  cmd->add_option("--endpoint", args->endpoint, "Server URL")->envname("SLUICE_ENDPOINT")->capture_default_str();
  cmd->add_option("--access-key", args->access_key, "Root access key (default: $SLUICE_ROOT_USER)");
  cmd->add_option("--secret-key", args->secret_key, "Root secret key (default: $SLUICE_ROOT_PASSWORD)");
  cmd->add_option("--data", args->data_dir, "Drive folder of a local server, to read generated root credentials")
      ->capture_default_str();
  cmd->add_option("--region", args->region, "Region")->capture_default_str();
  cmd->add_option("command", args->words, "info | user add ACCESS_KEY SECRET_KEY | user remove ACCESS_KEY | user list");
  cmd->callback([args] { set_exit_code(run_admin(*args)); });
}

}  // namespace sluice::app
