#include <signal.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <iostream>

#include "apps/sluice/commands.h"
#include "apps/sluice/event_services.h"
#include "apps/sluice/stream_services.h"
#include "base/allocator.h"
#include "base/config.h"
#include "base/fs.h"
#include "http/server.h"
#include "iam/iam.h"
#include "objstore/erasure/layout.h"
#include "objstore/erasure_store.h"
#include "objstore/local_store.h"
#include "s3/service.h"

namespace sluice::app {

namespace {

int exit_code_ = 0;

struct server_args {
  std::vector<std::string> drives;
  std::string config_file;
  std::vector<std::string> overrides;
  std::string s3_url;
};

std::string certs_dir(const config::settings& cfg, const std::string& first_drive) {
  std::string dir = cfg.get("tls.certs.dir");
  if (!dir.empty()) return dir;
  std::string beside = fs::join(fs::parent_path(first_drive), "certs");
  if (fs::exists(fs::join(beside, "public.crt"))) return beside;
  if (const char* home = std::getenv("HOME")) return fs::join(home, ".sluice/certs");
  return beside;
}

int run_server(const server_args& args) {
  grow_heaps_in_large_steps();
  config::settings cfg;
  if (!args.config_file.empty()) {
    if (auto r = cfg.load_file(args.config_file); !r) {
      std::cerr << "sluice: " << r.error().message() << "\n";
      return 2;
    }
  }
  cfg.apply_env();
  for (const auto& o : args.overrides) {
    auto eq = o.find('=');
    if (eq == std::string::npos) {
      std::cerr << "sluice: --override expects key=value, got '" << o << "'\n";
      return 2;
    }
    if (auto r = cfg.set(o.substr(0, eq), o.substr(eq + 1)); !r) {
      std::cerr << "sluice: " << r.error().message() << "\n";
      return 2;
    }
  }
  if (!args.s3_url.empty()) (void)cfg.set("s3.url", args.s3_url);
  spdlog::set_level(spdlog::level::from_str(cfg.get("log.level")));

  std::vector<std::string> drives = args.drives;
  if (drives.empty()) {
    std::string d = cfg.get("data.dirs");
    for (size_t s = 0; s <= d.size();) {
      size_t e = d.find(',', s);
      std::string one = d.substr(s, e == std::string::npos ? std::string::npos : e - s);
      if (!one.empty()) drives.push_back(one);
      if (e == std::string::npos) break;
      s = e + 1;
    }
  }
  std::vector<std::string> expanded;
  for (const auto& d : drives) {
    auto paths = objstore::erasure::expand_ellipsis(d);
    if (!paths) {
      std::cerr << "sluice: drive argument '" << d << "': " << paths.error().message() << "\n";
      return 2;
    }
    expanded.insert(expanded.end(), paths.value().begin(), paths.value().end());
  }
  drives = std::move(expanded);
  if (drives.empty()) {
    std::cerr << "sluice: no drive folder given\n";
    return 2;
  }
  int parity = -1;
  if (std::string p = cfg.get("storage.parity"); !p.empty()) {
    if (p.starts_with("EC:")) p = p.substr(3);
    char* end = nullptr;
    long v = std::strtol(p.c_str(), &end, 10);
    if (p.empty() || *end || v < 0 || v > 8) {
      std::cerr << "sluice: storage.parity must be a number 0-8 or EC:N, got '" << cfg.get("storage.parity") << "'\n";
      return 2;
    }
    parity = static_cast<int>(v);
  }
  auto bytes = [&](const char* key) {
    auto v = cfg.get_bytes(key);
    if (!v) {
      std::cerr << "sluice: " << v.error().message() << "\n";
      std::exit(2);
    }
    return v.value();
  };
  auto millis = [&](const char* key) {
    auto v = cfg.get_ms(key);
    if (!v) {
      std::cerr << "sluice: " << v.error().message() << "\n";
      std::exit(2);
    }
    return v.value();
  };

  // Block the stop signals before any thread starts, so only sigwait sees them.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  signal(SIGPIPE, SIG_IGN);

  // One drive: the plain single-drive layout. Several: erasure-coded sets (docs/STORAGE_FORMAT.md).
  result<std::unique_ptr<objstore::object_layer>> store = fail(objstore::errc::bad_argument);
  if (drives.size() == 1) {
    store = objstore::open_local_store(
        {drives[0], bytes("s3.inline.bytes"), bytes("s3.max.object.size"), bytes("s3.direct.io.bytes")});
  } else {
    objstore::erasure_store_options eo;
    eo.drives = drives;
    eo.parity = parity;
    eo.inline_threshold = bytes("s3.inline.bytes");
    eo.max_object_size = bytes("s3.max.object.size");
    eo.drive_check_interval = millis("storage.drive.check.ms");
    if (eo.drive_check_interval.count() < 0) {
      std::cerr << "sluice: storage.drive.check.ms must not be negative\n";
      return 2;
    }
    auto ec = objstore::open_erasure_store(eo);
    if (ec) store = std::unique_ptr<objstore::object_layer>(std::move(ec).value());
    else store = fail(ec.error());
  }
  if (!store) {
    spdlog::error("cannot open drives {}: {}", drives[0], store.error().message());
    return 1;
  }
  std::string state = fs::join(drives[0], ".sluice.sys/iam");
  auto root = iam::load_or_create_root(state, cfg.get("root.user"), cfg.get("root.password"));
  if (!root) {
    std::cerr << "sluice: " << root.error().message() << "\n";
    return 2;
  }
  auto users = iam::store::open(state, root.value(), cfg.family("iam.user."));
  if (!users) {
    std::cerr << "sluice: " << users.error().message() << "\n";
    return 2;
  }

  http::server_options ho;
  ho.address = cfg.get("s3.listeners");
  auto max_conn = cfg.get_int("s3.max.connections");
  if (!max_conn || max_conn.value() < 1) {
    std::cerr << "sluice: s3.max.connections must be a positive integer\n";
    return 2;
  }
  ho.max_connections = static_cast<size_t>(max_conn.value());
  ho.max_header_bytes = static_cast<uint32_t>(bytes("s3.max.header.bytes"));
  ho.idle_timeout = millis("s3.idle.timeout.ms");
  ho.io_timeout = millis("s3.io.timeout.ms");
  ho.name = "s3";
  std::string certs = certs_dir(cfg, drives[0]);
  std::string crt = fs::join(certs, "public.crt"), key = fs::join(certs, "private.key");
  if (fs::exists(crt) && fs::exists(key)) {
    auto tls = net::tls_context::load(crt, key);
    if (!tls) {
      std::cerr << "sluice: " << tls.error().message() << "\n";
      return 2;
    }
    ho.tls = tls.value();
  } else if (!cfg.get("tls.certs.dir").empty()) {
    std::cerr << "sluice: tls.certs.dir " << certs << " lacks public.crt or private.key\n";
    return 2;
  }

  s3::service_options so;
  so.region = cfg.get("s3.region");
  so.domain = cfg.get("s3.domain");
  so.max_skew = std::chrono::duration_cast<std::chrono::seconds>(millis("s3.clock.skew.ms"));
  so.max_object_size = bytes("s3.max.object.size");
  so.max_xml_bytes = bytes("s3.max.xml.bytes");
  // Stream data on this store (no s3.url): readable over S3, changed only by the engine.
  if (cfg.get("s3.url").empty()) so.reserved_buckets.push_back(cfg.get("s3.stream.bucket"));
  if (auto st = store.value()->storage()) so.deployment_id = st.value().deployment_id;
  const std::string deployment_id = so.deployment_id;
  // The stream engine and Kafka API come up before the S3 port, so a server
  // that answers health checks serves both.
  std::unique_ptr<stream_services> streams;
  auto kafka_on = cfg.get_bool("kafka.enabled");
  if (!kafka_on) {
    std::cerr << "sluice: " << kafka_on.error().message() << "\n";
    return 2;
  }
  if (kafka_on.value()) {
    auto st = start_stream_services(cfg, *store.value(), drives[0], deployment_id, root.value().access_key);
    if (!st) {
      spdlog::error("cannot start the stream engine / Kafka API: {}", st.error().message());
      return 1;
    }
    streams = std::move(st).value();
  }

  // Bucket notifications: the outbox is open (and what it holds is being
  // delivered again) before the S3 port accepts a request.
  auto notifier = start_event_services(cfg, *store.value(), drives[0], so.region,
                                       streams ? streams->broker : nullptr);
  if (!notifier) {
    spdlog::error("cannot start bucket notifications: {}", notifier.error().message());
    return 1;
  }

  http::server s3_server(ho, s3::make_service(so, *store.value(), *users.value(), notifier.value().get()));
  if (auto r = s3_server.start(); !r) {
    spdlog::error("cannot start the S3 API: {}", r.error().message());
    return 1;
  }

  std::string scheme = ho.tls ? "https" : "http";
  std::string host = ho.address.substr(0, ho.address.rfind(':'));
  if (host.empty() || host == "0.0.0.0" || host == "[::]") host = "127.0.0.1";
  std::cout << "Sluice is up.\n"
            << "S3 API: " << scheme << "://" << host << ":" << s3_server.port() << "\n"
            << (drives.size() == 1 ? "Drive: " + drives[0] : "Drives: " + std::to_string(drives.size()) + " (erasure-coded)")
            << "\n";
  if (streams) {
    std::cout << "Kafka API: " << streams->kafka_address << " (stream data in " << streams->storage_description
              << ")\n";
  }
  {
    std::string arns;
    for (const auto& t : notifier.value()->targets()) arns += (arns.empty() ? "" : " ") + t.arn;
    if (!arns.empty()) std::cout << "SQS ARNs: " << arns << "\n";
  }
  if (root.value().generated) {
    std::cout << "Root user: " << root.value().access_key << "\n"
              << "Root password: " << root.value().secret_key << "\n"
              << "(generated now and saved in " << state
              << "/root-credentials.json, mode 0600; this is the only time they are printed)\n";
  } else {
    std::cout << "Root user: " << root.value().access_key << "\n";
  }
  std::cout.flush();

  int sig = 0;
  sigwait(&stop, &sig);
  spdlog::info("signal {}: stopping", sig);
  // S3 first (no new events), then the notifier (its built-in target writes
  // to the broker), then the stream side.
  s3_server.stop();
  notifier.value()->stop();
  if (streams) streams->stop();
  return 0;
}

}  // namespace

void set_exit_code(int code) { exit_code_ = code; }
int exit_code() { return exit_code_; }

void add_server_command(CLI::App& app) {
  auto args = std::make_shared<server_args>();
  auto* cmd = app.add_subcommand("server", "Run the Sluice server (S3 API).");
  cmd->add_option("drives", args->drives, "Drive folders (default ./data, or data.dirs); /data{1...8} expands; 2+ drives are erasure-coded");
  cmd->add_option("-c,--config", args->config_file, "Properties file with key=value settings (see `sluice config keys`)");
  cmd->add_option("--override", args->overrides, "Set one configuration key: --override key=value (repeatable)");
  cmd->add_option("--s3-url", args->s3_url, "Keep stream data on this external S3 endpoint (an s3url from `sluice s3url generate`)");
  cmd->callback([args] { set_exit_code(run_server(*args)); });
}

void add_config_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("config", "Show configuration keys.");
  auto* keys = cmd->add_subcommand("keys", "Print every configuration key with its default, as a Markdown table.");
  cmd->require_subcommand(1);
  keys->callback([] { std::cout << config::markdown_table(); });
}

}  // namespace sluice::app
