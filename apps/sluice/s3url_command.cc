#include "apps/sluice/s3url_command.h"

#include <arpa/inet.h>
#include <signal.h>

#include <functional>
#include <iostream>
#include <set>

#include "apps/sluice/commands.h"
#include "base/crypto.h"
#include "s3client/client.h"
#include "s3client/s3url.h"

namespace sluice::app {

namespace {

using s3client::errc;

// Multipart parts other than the last must be at least this large (S3 rule).
constexpr size_t kMinPartSize = 5 << 20;
// Kafka's listener port on a node that is controller and broker (as AutoMQ's tool).
constexpr uint16_t kBrokerPort = 9092;

struct generate_args {
  std::string endpoint;
  std::string access_key;
  std::string secret_key;
  std::string region;
  std::string protocol = "https";
  std::string data_bucket;
  std::string ops_bucket;
  std::string path_style;  // "true" | "false" | empty: true for IP endpoints, else false
  double timeout_s = 30;
};

struct start_args {
  std::string s3_url;
  std::string controller_list;
  std::string broker_list;
  bool controller_only = false;
};

int usage_error(const std::string& cmd, const std::string& msg) {
  std::cerr << "sluice s3url " << cmd << ": " << msg << "\n";
  return 2;
}

bool is_ip(const std::string& host) {
  in6_addr a{};
  return ::inet_pton(AF_INET, host.c_str(), &a) == 1 || ::inet_pton(AF_INET6, host.c_str(), &a) == 1;
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out.push_back(c);
    }
  }
  return out + "'";
}

// ------------------------------------------------------------------ generate

// What to look at when a step failed, from the error's kind.
std::string hint_for(const error& e, const generate_args& a, bool path_style,
                     const std::string& bucket_flag) {
  std::string msg = e.message();
  if (e.is(errc::unknown_host)) {
    return path_style
               ? "check the endpoint: the host name in --s3-endpoint does not resolve"
               : "check the endpoint: with virtual-host style the host is BUCKET.ENDPOINT and it does not "
                 "resolve; check --s3-endpoint, or use --s3-path-style true";
  }
  if (e.is(errc::connection_refused)) {
    return "check the network: nothing accepts connections at " + a.endpoint + " (host, port, firewall)";
  }
  if (e.is(errc::timeout) || e.is(errc::network)) {
    return "check the network between this machine and " + a.endpoint + " (firewall, proxy, port)";
  }
  if (e.is(errc::tls)) return "check --s3-endpoint-protocol (http or https) and the server's TLS certificate";
  if (e.is(errc::no_such_bucket))
    return "check the bucket name (" + bucket_flag + "): it does not exist there";
  if (e.is(errc::invalid_credentials)) return "check --s3-access-key and --s3-secret-key";
  if (e.is(errc::access_denied)) return "the credentials lack permission for this operation on the bucket";
  if (e.is(errc::bad_response)) {
    return "the endpoint did not answer like S3: check --s3-endpoint and --s3-endpoint-protocol";
  }
  if (msg.find("region") != std::string::npos || msg.starts_with("AuthorizationHeaderMalformed") ||
      msg.starts_with("PermanentRedirect")) {
    return "check --s3-region";
  }
  return {};
}

class checker {
 public:
  checker(const generate_args& a, bool path_style) : a_(a), path_style_(path_style) {}

  // Runs one step unless an earlier step of its group failed; prints the outcome.
  bool step(const std::string& name, bool& group_ok, const std::string& bucket_flag,
            const std::function<result<void>()>& fn) {
    ++total_;
    if (!group_ok) {
      std::cout << "[SKIP] " << name << " (an earlier step failed)\n";
      return false;
    }
    auto r = fn();
    if (r) {
      std::cout << "[ OK ] " << name << "\n";
      return true;
    }
    ++failed_;
    group_ok = false;
    std::cout << "[FAIL] " << name << ": " << r.error().message() << "\n";
    if (std::string h = hint_for(r.error(), a_, path_style_, bucket_flag); !h.empty())
      std::cout << "       hint: " << h << "\n";
    return false;
  }

  int failed() const { return failed_; }
  int total() const { return total_; }

 private:
  const generate_args& a_;
  bool path_style_;
  int failed_ = 0, total_ = 0;
};

result<void> same_bytes(const std::string& got, std::string_view want, const std::string& what) {
  if (got.size() != want.size()) {
    return fail(errc::bad_response, what + ": read " + std::to_string(got.size()) + " bytes, wrote " +
                                        std::to_string(want.size()));
  }
  if (got != want) return fail(errc::bad_response, what + ": the bytes read differ from the bytes written");
  return ok();
}

result<void> gone(s3client::client& c, const std::string& bucket, const std::string& key) {
  auto h = c.head_object(bucket, key);
  if (h) return fail(errc::bad_response, "object " + key + " still exists after the delete");
  if (!h.error().is(errc::no_such_key)) return fail(h.error());
  return ok();
}

int run_generate(generate_args a) {
  ::signal(SIGPIPE, SIG_IGN);  // a server closing a TLS connection must not kill the check
  const std::string cmd = "generate";
  std::vector<std::string> missing;
  for (auto [flag, value] : {std::pair<const char*, std::string*>{"--s3-endpoint", &a.endpoint},
                             {"--s3-access-key", &a.access_key},
                             {"--s3-secret-key", &a.secret_key},
                             {"--s3-region", &a.region},
                             {"--s3-data-bucket", &a.data_bucket}}) {
    if (value->empty()) missing.push_back(flag);
  }
  if (!missing.empty()) {
    std::string m;
    for (const auto& f : missing) m += (m.empty() ? "" : ", ") + f;
    return usage_error(cmd, "missing " + m + " (see --help)");
  }
  if (a.protocol != "http" && a.protocol != "https") {
    return usage_error(cmd, "--s3-endpoint-protocol must be http or https");
  }
  auto hp = s3client::split_endpoint(a.endpoint);
  if (!hp) return usage_error(cmd, "--s3-endpoint: " + hp.error().message());
  bool path_style = is_ip(hp.value().first);
  if (a.path_style == "true") {
    path_style = true;
  } else if (a.path_style == "false") {
    path_style = false;
  } else if (!a.path_style.empty()) {
    return usage_error(cmd, "--s3-path-style must be true or false");
  }
  if (a.timeout_s <= 0) return usage_error(cmd, "--timeout must be positive");

  s3client::s3url url;
  url.endpoint = a.endpoint;
  url.access_key = a.access_key;
  url.secret_key = a.secret_key;
  url.region = a.region;
  url.https = a.protocol == "https";
  url.data_bucket = a.data_bucket;
  url.ops_bucket = a.ops_bucket;
  url.path_style = path_style;
  url.cluster_id = uuid_v4();
  auto text = s3client::format_s3url(url);
  if (!text) return usage_error(cmd, text.error().message());

  auto cfg = s3client::to_client_config(url);
  if (!cfg) return usage_error(cmd, cfg.error().message());
  cfg.value().retry = s3client::retry_policy::none();  // report what the endpoint does, not what retries hide
  auto timeout = std::chrono::milliseconds(static_cast<int64_t>(a.timeout_s * 1000));
  cfg.value().connect_timeout = std::min(timeout, std::chrono::milliseconds(10'000));
  cfg.value().io_timeout = timeout;
  cfg.value().max_connections = 2;
  auto made = s3client::client::make(cfg.value());
  if (!made) return usage_error(cmd, made.error().message());
  s3client::client& c = *made.value();

  std::cout << "Checking " << (url.https ? "https://" : "http://") << a.endpoint << " (region " << a.region
            << ", " << (path_style ? "path" : "virtual-host") << " style), bucket " << a.data_bucket
            << (a.ops_bucket.empty() ? "" : ", ops bucket " + a.ops_bucket) << "\n";

  const std::string& b = a.data_bucket;
  const std::string prefix = "sluice-s3url-check/" + url.cluster_id + "/";
  const std::string k_small = prefix + "object", k_multi = prefix + "multipart",
                    k_copy = prefix + "part-copy";
  const std::string small = random_bytes(64 * 1024);
  const std::string part1 = random_bytes(kMinPartSize), part2 = random_bytes(4096);
  const std::string multi = part1 + part2;
  checker ck(a, path_style);
  std::vector<std::pair<std::string, std::string>> open_uploads;  // key, upload id

  bool basic = true;
  ck.step("put object", basic, "--s3-data-bucket", [&]() -> result<void> {
    SLUICE_TRY(c.put_object(b, k_small, small));
    return ok();
  });
  ck.step("read object back (byte comparison)", basic, "--s3-data-bucket", [&]() -> result<void> {
    SLUICE_TRY(auto got, c.get_object(b, k_small));
    return same_bytes(got.data, small, "read back");
  });
  ck.step("range read (byte comparison)", basic, "--s3-data-bucket", [&]() -> result<void> {
    SLUICE_TRY(auto got, c.get_object(b, k_small, s3client::byte_range{1000, 20'000}));
    return same_bytes(got.data, std::string_view(small).substr(1000, 20'000), "range read");
  });
  ck.step("delete object", basic, "--s3-data-bucket", [&]() -> result<void> {
    SLUICE_TRY(c.delete_object(b, k_small));
    return gone(c, b, k_small);
  });

  bool multipart = true;
  ck.step("multipart upload (2 parts, first 5 MiB)", multipart, "--s3-data-bucket", [&]() -> result<void> {
    SLUICE_TRY(auto id, c.create_multipart_upload(b, k_multi));
    open_uploads.emplace_back(k_multi, id);
    SLUICE_TRY(auto e1, c.upload_part(b, k_multi, id, 1, part1));
    SLUICE_TRY(auto e2, c.upload_part(b, k_multi, id, 2, part2));
    SLUICE_TRY(c.complete_multipart_upload(b, k_multi, id, {{1, e1}, {2, e2}}));
    open_uploads.pop_back();
    return ok();
  });
  ck.step("read multipart object (byte comparison)", multipart, "--s3-data-bucket", [&]() -> result<void> {
    SLUICE_TRY(auto got, c.get_object(b, k_multi));
    SLUICE_TRY(same_bytes(got.data, multi, "read back"));
    SLUICE_TRY(auto edge, c.get_object(b, k_multi, s3client::byte_range{kMinPartSize - 100, 200}));
    return same_bytes(edge.data, std::string_view(multi).substr(kMinPartSize - 100, 200),
                      "range across parts");
  });
  ck.step("upload part copy", multipart, "--s3-data-bucket", [&]() -> result<void> {
    SLUICE_TRY(auto id, c.create_multipart_upload(b, k_copy));
    open_uploads.emplace_back(k_copy, id);
    SLUICE_TRY(auto e1, c.upload_part_copy(b, k_copy, id, 1, b, k_multi));
    SLUICE_TRY(auto e2, c.upload_part_copy(b, k_copy, id, 2, b, k_multi, s3client::byte_range{0, 1000}));
    SLUICE_TRY(c.complete_multipart_upload(b, k_copy, id, {{1, e1}, {2, e2}}));
    open_uploads.pop_back();
    SLUICE_TRY(auto got, c.get_object(b, k_copy));
    return same_bytes(got.data, multi + multi.substr(0, 1000), "copied object");
  });
  ck.step("delete objects (2 keys in one request)", multipart, "--s3-data-bucket", [&]() -> result<void> {
    SLUICE_TRY(auto r, c.delete_objects(b, {k_multi, k_copy}));
    if (!r.errors.empty()) {
      const auto& f = r.errors.front();
      return fail(errc::request_rejected, f.code + ": " + f.message + " (key " + f.key + ")");
    }
    SLUICE_TRY(gone(c, b, k_multi));
    return gone(c, b, k_copy);
  });

  if (!a.ops_bucket.empty()) {
    bool ops = true;
    ck.step("ops bucket: put and delete object", ops, "--s3-ops-bucket", [&]() -> result<void> {
      const std::string k = prefix + "ops";
      SLUICE_TRY(c.put_object(a.ops_bucket, k, small.substr(0, 1024)));
      SLUICE_TRY(c.delete_object(a.ops_bucket, k));
      return ok();
    });
  }

  // Best effort: leave nothing behind after a failed step.
  for (const auto& [key, id] : open_uploads) (void)c.abort_multipart_upload(b, key, id);
  if (ck.failed() > 0) {
    (void)c.delete_objects(b, {k_small, k_multi, k_copy}, true);
    std::cout << "\nS3 check failed (" << ck.failed() << " of " << ck.total()
              << " steps); fix the problem above and run this again.\n";
    return 1;
  }

  std::cout << "\nYour s3url:\n\n"
            << text.value() << "\n\n"
            << "Next, print the start command of every node:\n"
            << "  sluice s3url start-command --s3-url=" << shell_quote(text.value()) << " \\\n"
            << "    --controller-list=\"192.168.0.1:9093;192.168.0.2:9093;192.168.0.3:9093\" \\\n"
            << "    --broker-list=\"192.168.0.4:9092;192.168.0.5:9092\"\n"
            << "(replace the addresses with your nodes' ip:port)\n";
  return 0;
}

// ------------------------------------------------------------------ start-command

struct node_address {
  std::string host;  // as written (IPv6 with brackets)
  uint16_t port = 0;
  std::string text() const { return host + ":" + std::to_string(port); }
};

result<std::vector<node_address>> parse_list(const std::string& list, const std::string& flag) {
  std::vector<node_address> out;
  size_t pos = 0;
  while (pos <= list.size()) {
    size_t semi = list.find(';', pos);
    std::string item = list.substr(pos, semi == std::string::npos ? std::string::npos : semi - pos);
    pos = semi == std::string::npos ? list.size() + 1 : semi + 1;
    while (!item.empty() && item.back() == ' ') item.pop_back();
    while (!item.empty() && item.front() == ' ') item.erase(item.begin());
    if (item.empty()) {
      if (semi == std::string::npos && !out.empty()) break;  // a trailing ';'
      return fail(errc::invalid_argument, flag + ": empty entry in '" + list + "'");
    }
    auto hp = s3client::split_endpoint(item);
    if (!hp || hp.value().second == 0) {
      return fail(errc::invalid_argument, flag + ": '" + item + "' is not ip:port");
    }
    std::string host = hp.value().first;
    if (host.find(':') != std::string::npos) host = "[" + host + "]";
    out.push_back({host, hp.value().second});
  }
  return out;
}

int run_start_command(const start_args& a) {
  const std::string cmd = "start-command";
  if (a.s3_url.empty()) return usage_error(cmd, "missing --s3-url (make one with `sluice s3url generate`)");
  if (a.controller_list.empty()) return usage_error(cmd, "missing --controller-list \"ip:port;ip:port;...\"");
  auto url = s3client::parse_s3url(a.s3_url);
  if (!url) return usage_error(cmd, "--s3-url: " + url.error().message());
  if (url.value().cluster_id.empty()) {
    return usage_error(cmd, "--s3-url has no cluster-id; make the URL with `sluice s3url generate`");
  }
  auto controllers = parse_list(a.controller_list, "--controller-list");
  if (!controllers) return usage_error(cmd, controllers.error().message());
  std::vector<node_address> brokers;
  if (!a.broker_list.empty()) {
    auto b = parse_list(a.broker_list, "--broker-list");
    if (!b) return usage_error(cmd, b.error().message());
    brokers = std::move(b).value();
  }

  // Node ids: controllers 0..k-1, brokers k.. (AutoMQ's generate-start-command).
  std::string voters;
  std::set<std::string> listening;
  auto claim = [&](const std::string& addr) { return listening.insert(addr).second; };
  for (size_t i = 0; i < controllers.value().size(); ++i) {
    const auto& n = controllers.value()[i];
    if (!a.controller_only && n.port == kBrokerPort) {
      return usage_error(cmd, "controller " + n.text() + ": port " + std::to_string(kBrokerPort) +
                                  " is the broker port of a combined node; pick another controller port");
    }
    if (!claim(n.text()) || (!a.controller_only && !claim(n.host + ":" + std::to_string(kBrokerPort)))) {
      return usage_error(cmd, "address " + n.text() + " is used twice");
    }
    voters += (i ? "," : "") + std::to_string(i) + "@" + n.text();
  }
  for (const auto& n : brokers) {
    if (!claim(n.text())) return usage_error(cmd, "address " + n.text() + " is used twice");
  }

  const std::string base = "sluice server --s3-url=" + shell_quote(a.s3_url);
  std::cout
      << "# One command per node; run each on its node. Start the controllers first, then the brokers.\n";
  size_t id = 0;
  for (const auto& n : controllers.value()) {
    std::cout << "\n# node " << id << ": " << (a.controller_only ? "controller" : "broker and controller")
              << " at " << n.host << "\n"
              << base
              << " --override process.roles=" << (a.controller_only ? "controller" : "broker,controller")
              << " --override node.id=" << id << " --override controller.quorum.voters=" << voters;
    if (a.controller_only) {
      std::cout << " --override listeners=CONTROLLER://" << n.text() << "\n";
    } else {
      std::string plain = "PLAINTEXT://" + n.host + ":" + std::to_string(kBrokerPort);
      std::cout << " --override listeners=" << plain << ",CONTROLLER://" << n.text()
                << " --override advertised.listeners=" << plain << "\n";
    }
    ++id;
  }
  for (const auto& n : brokers) {
    std::string plain = "PLAINTEXT://" + n.text();
    std::cout << "\n# node " << id << ": broker at " << n.host << "\n"
              << base << " --override process.roles=broker --override node.id=" << id
              << " --override controller.quorum.voters=" << voters << " --override listeners=" << plain
              << " --override advertised.listeners=" << plain << "\n";
    ++id;
  }
  return 0;
}

int check_extras(const CLI::App* cmd, const std::string& name) {
  auto extra = cmd->remaining();
  if (extra.empty()) return 0;
  return usage_error(name, "unexpected argument '" + extra.front() + "' (see --help)");
}

}  // namespace

void add_s3url_command(CLI::App& app) {
  auto* cmd =
      app.add_subcommand("s3url", "Check an S3 endpoint and make an s3url; print node start commands.");

  auto g = std::make_shared<generate_args>();
  auto* gen = cmd->add_subcommand("generate",
                                  "Check that an S3 endpoint and bucket work for Sluice (put, read, range "
                                  "read, delete, multipart, part copy, "
                                  "multi-delete) and print the s3url. Exit 0 when every check passed, 1 when "
                                  "one failed, 2 on bad usage.");
  gen->add_option("--s3-endpoint", g->endpoint, "host[:port] of the S3 service, without the protocol");
  gen->add_option("--s3-access-key", g->access_key, "Access key")->envname("SLUICE_S3_ACCESS_KEY");
  gen->add_option("--s3-secret-key", g->secret_key, "Secret key")->envname("SLUICE_S3_SECRET_KEY");
  gen->add_option("--s3-region", g->region, "Region, e.g. us-east-1");
  gen->add_option("--s3-endpoint-protocol", g->protocol, "http or https")->capture_default_str();
  gen->add_option("--s3-data-bucket", g->data_bucket, "Bucket for stream data");
  gen->add_option("--s3-ops-bucket", g->ops_bucket, "Bucket for operational data (metrics, logs); optional");
  gen->add_option("--s3-path-style", g->path_style,
                  "true: http://endpoint/bucket/key; false: http://bucket.endpoint/key "
                  "(default: true for an IP address endpoint, else false)");
  gen->add_option("--timeout", g->timeout_s, "Seconds to wait for any one answer")->capture_default_str();
  gen->allow_extras();
  for (auto* o : gen->get_options()) o->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  gen->callback([g, gen] {
    if (int rc = check_extras(gen, "generate")) return set_exit_code(rc);
    set_exit_code(run_generate(*g));
  });

  auto s = std::make_shared<start_args>();
  auto* start =
      cmd->add_subcommand("start-command", "Print the `sluice server` command of every node of a cluster.");
  start->add_option("--s3-url", s->s3_url, "The s3url from `sluice s3url generate`");
  start->add_option("--controller-list", s->controller_list,
                    "Controllers as \"ip:port;ip:port;...\" (ids 0..k-1)");
  start->add_option("--broker-list", s->broker_list, "Brokers as \"ip:port;ip:port;...\" (ids k..)");
  start->add_flag(
      "--controller-only-mode", s->controller_only,
      "Controllers run as controllers only (default: each controller is a broker too, on port 9092)");
  start->allow_extras();
  for (auto* o : start->get_options()) o->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  start->callback([s, start] {
    if (int rc = check_extras(start, "start-command")) return set_exit_code(rc);
    set_exit_code(run_start_command(*s));
  });

  cmd->allow_extras();
  cmd->callback([cmd] {
    if (cmd->get_subcommands().empty()) {
      if (!cmd->remaining().empty())
        std::cerr << "sluice s3url: unknown command '" << cmd->remaining().front() << "'\n";
      std::cerr << cmd->help();
      set_exit_code(2);
    }
  });
}

}  // namespace sluice::app
