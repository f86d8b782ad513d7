// `sluice worker image-resize|exec`: event-driven functions (src/worker/README.md).
#include <signal.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <functional>
#include <iostream>
#include <thread>

#include "apps/sluice/commands.h"
#include "http/server.h"
#include "s3client/client.h"
#include "s3client/s3url.h"
#include "worker/consumer.h"
#include "worker/exec.h"
#include "worker/image.h"
#include "worker/image_resize.h"

namespace sluice::app {

namespace {

using std::chrono::milliseconds;

struct common_args {
  std::string config_file;
  std::string brokers = "127.0.0.1:9092";
  std::string topic = "bucket-events";
  std::string group;
  std::string dlq_topic;
  std::string from = "earliest";
  std::vector<std::string> kafka_properties;
  std::string endpoint = "http://127.0.0.1:9000";
  std::string access_key;
  std::string secret_key;
  std::string region = "us-east-1";
  bool insecure = false;
  std::string ca_file;
  int concurrency = 0;
  int max_in_flight = 0;
  int max_attempts = 3;
  int64_t retry_backoff_ms = 500;
  int64_t retry_backoff_max_ms = 30'000;
  int64_t commit_interval_ms = 1'000;
  double summary_interval_s = 10;
  double drain_timeout_s = 30;
  double max_input_mb = 128;
  // How long start-up waits for the S3 endpoint (a worker started with its
  // server may be a moment early).
  double startup_wait_s = 30;
  std::string log_level = "info";
  std::string metrics_listen;
};

struct resize_args {
  std::string dest_bucket = "processed";
  std::string dest_prefix;
  std::vector<std::string> sizes;
  std::string format = "webp";
  int quality = 80;
  std::string fit = "inside";
  bool enlarge = false;
  double max_megapixels = 150;
  double memory_budget_mb = 512;
  int vips_threads = 1;
  bool no_create_bucket = false;
};

struct exec_args {
  std::string command;
  double timeout_s = 60;
  std::vector<std::string> events;
  std::string tmp_dir;
  bool no_download = false;
  bool process_marked = false;
};

int usage_error(const std::string& cmd, const std::string& msg) {
  std::cerr << "sluice worker " << cmd << ": " << msg << "\n";
  return 2;
}

// Applies a config file's `option = value` lines to the options of `cmd` not
// given on the command line (CLI11 2.1 reads config files for the main app
// only). Returns an error message, empty when fine.
std::string apply_config_file(CLI::App* cmd, const std::string& path) {
  std::vector<CLI::ConfigItem> items;
  try {
    items = CLI::ConfigTOML().from_file(path);
  } catch (const CLI::Error& e) {
    return "--config " + path + ": " + e.what();
  }
  for (const auto& item : items) {
    if (item.name == "++" || item.name == "--") continue;  // section markers
    CLI::Option* op = cmd->get_option_no_throw("--" + item.name);
    if (!op || item.name == "config" || !item.parents.empty()) {
      return "--config " + path + ": unknown option '" + item.fullname() + "'";
    }
    if (op->count() > 0) continue;
    try {
      op->add_result(item.inputs);
      op->run_callback();
    } catch (const CLI::Error& e) {
      return "--config " + path + ": " + item.name + ": " + e.what();
    }
  }
  return {};
}

// Credentials: flags, then AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, then the
// root user of a local Sluice (SLUICE_ROOT_USER/PASSWORD, MINIO_ROOT_USER/PASSWORD).
void resolve_credentials(common_args& a) {
  auto first = [](std::initializer_list<const char*> names) -> std::string {
    for (const char* n : names) {
      if (const char* v = std::getenv(n); v && *v) return v;
    }
    return {};
  };
  if (a.access_key.empty() && a.secret_key.empty() && std::getenv("AWS_ACCESS_KEY_ID")) {
    a.access_key = first({"AWS_ACCESS_KEY_ID"});
    a.secret_key = first({"AWS_SECRET_ACCESS_KEY"});
  }
  if (a.access_key.empty()) a.access_key = first({"SLUICE_ROOT_USER", "MINIO_ROOT_USER"});
  if (a.secret_key.empty()) a.secret_key = first({"SLUICE_ROOT_PASSWORD", "MINIO_ROOT_PASSWORD"});
}

result<s3client::client_config> s3_config(common_args& a, uint64_t max_response_bytes, size_t connections) {
  resolve_credentials(a);
  if (a.access_key.empty() || a.secret_key.empty()) {
    return fail(
        std::make_error_code(std::errc::invalid_argument),
        "no S3 credentials: pass --access-key/--secret-key or set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY "
        "(or SLUICE_ROOT_USER/SLUICE_ROOT_PASSWORD)");
  }
  s3client::client_config c;
  std::string ep = a.endpoint;
  if (ep.starts_with("https://")) {
    c.https = true;
    ep = ep.substr(8);
  } else if (ep.starts_with("http://")) {
    ep = ep.substr(7);
  } else if (ep.find("://") != std::string::npos) {
    return fail(std::make_error_code(std::errc::invalid_argument),
                "--s3-endpoint must start with http:// or https://, got '" + a.endpoint + "'");
  }
  while (!ep.empty() && ep.back() == '/') ep.pop_back();
  auto hp = s3client::split_endpoint(ep);
  if (!hp)
    return fail(std::make_error_code(std::errc::invalid_argument), "--s3-endpoint: " + hp.error().message());
  c.host = hp.value().first;
  c.port = hp.value().second;
  c.verify_tls = !a.insecure;
  c.ca_file = a.ca_file;
  c.region = a.region;
  c.access_key = a.access_key;
  c.secret_key = a.secret_key;
  c.max_connections = connections;
  c.max_response_bytes = max_response_bytes;
  return c;
}

result<worker::consumer_options> consumer_config(const std::string& worker_name, const common_args& a) {
  auto bad = [](std::string m) {
    return fail(std::make_error_code(std::errc::invalid_argument), std::move(m));
  };
  worker::consumer_options o;
  o.brokers = a.brokers;
  o.topic = a.topic;
  o.group = a.group.empty() ? "sluice-" + worker_name : a.group;
  o.dlq_topic = a.dlq_topic;
  o.worker_name = worker_name;
  o.start_from = a.from;
  for (const auto& kv : a.kafka_properties) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0)
      return bad("--kafka-property expects key=value, got '" + kv + "'");
    o.kafka_properties.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
  }
  unsigned cpus = std::max(1u, std::thread::hardware_concurrency());
  o.concurrency = a.concurrency > 0 ? a.concurrency : static_cast<int>(std::max(2u, cpus));
  if (a.concurrency < 0) return bad("--concurrency must be at least 1");
  o.max_in_flight = a.max_in_flight;
  o.max_attempts = a.max_attempts;
  if (a.retry_backoff_ms < 1 || a.retry_backoff_max_ms < a.retry_backoff_ms) {
    return bad("--retry-backoff-ms must be >= 1 and <= --retry-backoff-max-ms");
  }
  o.retry_backoff = milliseconds(a.retry_backoff_ms);
  o.retry_backoff_max = milliseconds(a.retry_backoff_max_ms);
  if (a.commit_interval_ms < 10) return bad("--commit-interval-ms must be at least 10");
  o.commit_interval = milliseconds(a.commit_interval_ms);
  if (a.summary_interval_s < 0) return bad("--summary-interval must not be negative");
  o.summary_interval = milliseconds(static_cast<int64_t>(a.summary_interval_s * 1000));
  if (a.drain_timeout_s < 0) return bad("--drain-timeout must not be negative");
  o.drain_timeout = milliseconds(static_cast<int64_t>(a.drain_timeout_s * 1000));
  return o;
}

// Serves GET /metrics (Prometheus text) and GET /health.
class metrics_endpoint final : public http::handler {
 public:
  explicit metrics_endpoint(std::shared_ptr<worker::metrics> m) : m_(std::move(m)) {}
  void handle(http::exchange& ex) override {
    http::response r;
    std::string body;
    std::string target(ex.request.target());
    if (target == "/metrics") {
      body = m_->prometheus();
      r.headers.set(http::bhttp::field::content_type, "text/plain; version=0.0.4");
    } else if (target == "/health") {
      body = "ok\n";
    } else {
      r.status = 404;
      body = "not found\n";
    }
    (void)ex.out.send(r, body);
  }

 private:
  std::shared_ptr<worker::metrics> m_;
};

// Waits for the S3 endpoint, then makes sure `bucket` exists (creating it
// unless told not to). Returns the exit code on failure.
int prepare_bucket(const std::string& cmd, s3client::client& s3, const std::string& bucket, bool create,
                   double wait_s) {
  auto deadline = std::chrono::steady_clock::now() + milliseconds(static_cast<int64_t>(wait_s * 1000));
  for (;;) {
    auto r = s3.head_bucket(bucket);
    if (r) return 0;
    if (r.error().is(s3client::errc::no_such_bucket)) {
      if (!create) return usage_error(cmd, "destination bucket " + bucket + " does not exist");
      auto c = s3.create_bucket(bucket);
      if (c || c.error().is(s3client::errc::bucket_exists)) {
        spdlog::info("created destination bucket {}", bucket);
        return 0;
      }
      r = fail(c.error());
    }
    if (!s3client::is_retryable(r.error()) || std::chrono::steady_clock::now() > deadline) {
      std::cerr << "sluice worker " << cmd << ": S3 endpoint " << s3.endpoint() << ": " << r.error().message()
                << "\n";
      return 1;
    }
    spdlog::info("waiting for S3 at {}: {}", s3.endpoint(), r.error().message());
    std::this_thread::sleep_for(milliseconds(500));
  }
}

sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGINT, SIGTERM}) sigaddset(&set, sig);
  return set;
}

// Makes the consumer, runs `prepare` (start-up checks; non-zero is the exit
// code), then consumes until SIGINT/SIGTERM (a second one exits at once).
int run_consumer(const std::string& cmd, worker::consumer_options copts, std::shared_ptr<worker::handler> h,
                 std::shared_ptr<worker::metrics> m, const common_args& a,
                 const std::function<int()>& prepare) {
  auto c = worker::consumer::make(std::move(copts), std::move(h), m);
  if (!c) return usage_error(cmd, c.error().message());
  std::shared_ptr<worker::consumer> consumer = std::move(c).value();
  if (int rc = prepare()) return rc;
  std::unique_ptr<http::server> metrics_server;
  if (!a.metrics_listen.empty()) {
    http::server_options ho;
    ho.address =
        a.metrics_listen.find(':') == std::string::npos ? "127.0.0.1:" + a.metrics_listen : a.metrics_listen;
    ho.max_connections = 16;
    ho.name = "metrics";
    metrics_server = std::make_unique<http::server>(ho, std::make_shared<metrics_endpoint>(m));
    if (auto r = metrics_server->start(); !r)
      return usage_error(cmd, "--metrics-listen: " + r.error().message());
    spdlog::info("metrics on http://{}/metrics", ho.address);
  }
  std::atomic<bool> finished{false};
  std::thread signals([&] {
    sigset_t set = stop_signals();
    timespec tick{0, 200'000'000};
    int seen = 0;
    while (!finished) {
      int sig = sigtimedwait(&set, nullptr, &tick);
      if (sig <= 0) continue;
      if (++seen == 1) {
        spdlog::info("signal {}: finishing in-flight messages (again to exit at once)", sig);
        consumer->stop();
      } else {
        spdlog::warn("signal {} again: exiting without waiting", sig);
        std::_Exit(130);
      }
    }
  });
  auto r = consumer->run();
  finished = true;
  signals.join();
  if (metrics_server) metrics_server->stop();
  if (!r) {
    std::cerr << "sluice worker " << cmd << ": " << r.error().message() << "\n";
    return 1;
  }
  return 0;
}

// Blocked before any thread starts, so that only the signal thread sees them.
void block_signals() {
  sigset_t set = stop_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

int run_image_resize(common_args a, const resize_args& r) {
  const std::string cmd = "image-resize";
  spdlog::set_level(spdlog::level::from_str(a.log_level));
  worker::image_resize_options o;
  o.dest_bucket = r.dest_bucket;
  o.dest_prefix = r.dest_prefix;
  std::vector<std::string> sizes =
      r.sizes.empty() ? std::vector<std::string>{"320x320", "1024x1024"} : r.sizes;
  for (const auto& s : sizes) {
    auto b = worker::image::parse_box(s);
    if (!b) return usage_error(cmd, "--size " + b.error().message());
    if (std::find(o.sizes.begin(), o.sizes.end(), b.value()) == o.sizes.end()) o.sizes.push_back(b.value());
  }
  auto f = worker::image::parse_format(r.format);
  if (!f) return usage_error(cmd, "--format: " + f.error().message());
  auto fit = worker::image::parse_fit(r.fit);
  if (!fit) return usage_error(cmd, "--fit: " + fit.error().message());
  if (r.quality < 1 || r.quality > 100) return usage_error(cmd, "--quality must be 1-100");
  if (r.max_megapixels <= 0) return usage_error(cmd, "--max-megapixels must be positive");
  if (a.max_input_mb <= 0) return usage_error(cmd, "--max-input-mb must be positive");
  if (r.memory_budget_mb <= 0) return usage_error(cmd, "--memory-budget-mb must be positive");
  if (r.vips_threads < 1) return usage_error(cmd, "--vips-threads must be at least 1");
  o.resize = {fit.value(), f.value(), r.quality, r.enlarge};
  o.max_pixels = static_cast<uint64_t>(r.max_megapixels * 1e6);
  o.max_input_bytes = static_cast<uint64_t>(a.max_input_mb * (1 << 20));
  o.memory_budget = static_cast<uint64_t>(r.memory_budget_mb * (1 << 20));

  auto copts = consumer_config(cmd, a);
  if (!copts) return usage_error(cmd, copts.error().message());
  block_signals();
  if (auto ok = worker::image::init({r.vips_threads}); !ok) {
    std::cerr << "sluice worker " << cmd << ": " << ok.error().message() << "\n";
    return 1;
  }
  if (auto ok = worker::image::check_format(f.value()); !ok)
    return usage_error(cmd, "--format: " + ok.error().message());
  auto s3cfg = s3_config(a, o.max_input_bytes, static_cast<size_t>(copts.value().concurrency) + 2);
  if (!s3cfg) return usage_error(cmd, s3cfg.error().message());
  auto s3 = s3client::client::make(s3cfg.value());
  if (!s3) return usage_error(cmd, s3.error().message());
  std::shared_ptr<s3client::client> client = std::move(s3).value();
  auto prepare = [&] {
    if (int rc = prepare_bucket(cmd, *client, o.dest_bucket, !r.no_create_bucket, a.startup_wait_s))
      return rc;
    std::string boxes;
    for (auto b : o.sizes)
      boxes += (boxes.empty() ? "" : ", ") + std::to_string(b.width) + "x" + std::to_string(b.height);
    spdlog::info("image-resize: {} -> {} (fit {}, quality {}) into {}/{}", boxes,
                 worker::image::name(o.resize.output), worker::image::name(o.resize.fit_mode),
                 o.resize.quality, o.dest_bucket, o.dest_prefix);
    return 0;
  };
  auto m = std::make_shared<worker::metrics>(cmd);
  return run_consumer(cmd, std::move(copts).value(),
                      std::make_shared<worker::image_resize_handler>(o, client), m, a, prepare);
}

int run_exec(common_args a, const exec_args& e) {
  const std::string cmd = "exec";
  spdlog::set_level(spdlog::level::from_str(a.log_level));
  worker::exec_options o;
  o.command = e.command;
  if (o.command.empty()) return usage_error(cmd, "--cmd is required (the command to run per event)");
  if (e.timeout_s <= 0) return usage_error(cmd, "--timeout must be positive");
  o.timeout = milliseconds(static_cast<int64_t>(e.timeout_s * 1000));
  if (!e.events.empty()) o.events = e.events;
  for (const auto& p : o.events) {
    if (!p.starts_with("s3:"))
      return usage_error(cmd, "--event '" + p + "': expected e.g. s3:ObjectCreated:*");
  }
  o.tmp_dir = e.tmp_dir;
  o.download = !e.no_download;
  o.skip_marked = !e.process_marked;
  if (a.max_input_mb <= 0) return usage_error(cmd, "--max-input-mb must be positive");
  o.max_input_bytes = static_cast<uint64_t>(a.max_input_mb * (1 << 20));

  auto copts = consumer_config(cmd, a);
  if (!copts) return usage_error(cmd, copts.error().message());
  // A message may take the whole command timeout, several times over.
  copts.value().max_poll_interval =
      std::max(copts.value().max_poll_interval, o.timeout * 2 + std::chrono::minutes(1));
  block_signals();
  std::shared_ptr<s3client::client> client;
  if (o.download) {
    auto s3cfg = s3_config(a, o.max_input_bytes, static_cast<size_t>(copts.value().concurrency) + 2);
    if (!s3cfg) return usage_error(cmd, s3cfg.error().message());
    auto s3 = s3client::client::make(s3cfg.value());
    if (!s3) return usage_error(cmd, s3.error().message());
    client = std::move(s3).value();
  }
  auto prepare = [&] {
    spdlog::info("exec: running `{}` per event (timeout {} s)", o.command, e.timeout_s);
    return 0;
  };
  auto m = std::make_shared<worker::metrics>(cmd);
  return run_consumer(cmd, std::move(copts).value(), std::make_shared<worker::exec_handler>(o, client), m, a,
                      prepare);
}

void add_common_options(CLI::App* c, common_args& a) {
  c->add_option("--config", a.config_file,
                "Read options from a file of option = value lines (TOML/INI; lists as [\"a\", \"b\"]); "
                "command-line flags win");
  c->add_option("--brokers", a.brokers, "Kafka bootstrap servers, host:port[,host:port]")
      ->capture_default_str();
  c->add_option("--topic", a.topic, "Topic of the bucket events")->capture_default_str();
  c->add_option("--group", a.group,
                "Consumer group (default: sluice-<worker>); workers of one group share partitions");
  c->add_option("--dlq-topic", a.dlq_topic, "Dead-letter topic (default: <topic>-dlq)");
  c->add_option("--from", a.from, "Where a group without committed offsets starts: earliest|latest")
      ->capture_default_str();
  c->add_option("--kafka-property", a.kafka_properties, "Extra librdkafka property key=value (repeatable)");
  c->add_option("--s3-endpoint", a.endpoint, "S3 endpoint, http(s)://host:port")->capture_default_str();
  c->add_option("--access-key", a.access_key,
                "S3 access key (default: $AWS_ACCESS_KEY_ID, else $SLUICE_ROOT_USER / $MINIO_ROOT_USER)");
  c->add_option(
      "--secret-key", a.secret_key,
      "S3 secret key (default: $AWS_SECRET_ACCESS_KEY, else $SLUICE_ROOT_PASSWORD / $MINIO_ROOT_PASSWORD)");
  c->add_option("--region", a.region, "S3 region for signing")->capture_default_str();
  c->add_flag("--insecure", a.insecure, "HTTPS without certificate checks (self-signed servers)");
  c->add_option("--ca-file", a.ca_file, "PEM file of trusted certificates for HTTPS");
  c->add_option("--concurrency", a.concurrency,
                "Messages processed at once (default: CPU count, at least 2)");
  c->add_option("--max-in-flight", a.max_in_flight,
                "Messages taken from Kafka before one finishes (default: 2 x concurrency)");
  c->add_option("--max-attempts", a.max_attempts,
                "Attempts of a failing message before the dead-letter topic")
      ->capture_default_str();
  c->add_option("--retry-backoff-ms", a.retry_backoff_ms, "First retry backoff")->capture_default_str();
  c->add_option("--retry-backoff-max-ms", a.retry_backoff_max_ms, "Longest retry backoff")
      ->capture_default_str();
  c->add_option("--commit-interval-ms", a.commit_interval_ms, "How often finished offsets are committed")
      ->capture_default_str();
  c->add_option("--summary-interval", a.summary_interval_s, "Seconds between progress lines (0: none)")
      ->capture_default_str();
  c->add_option("--drain-timeout", a.drain_timeout_s,
                "Seconds a stop or rebalance waits for in-flight messages before giving them up")
      ->capture_default_str();
  c->add_option("--max-input-mb", a.max_input_mb, "Largest object downloaded, MiB (larger: dead-lettered)")
      ->capture_default_str();
  c->add_option("--startup-wait", a.startup_wait_s, "Seconds start-up waits for the S3 endpoint to answer")
      ->capture_default_str();
  c->add_option("--log-level", a.log_level, "trace|debug|info|warn|error")->capture_default_str();
  c->add_option("--metrics-listen", a.metrics_listen, "Serve Prometheus metrics on [host:]port (/metrics)");
}

// The subcommand's callback: the config file's options first, then `run`.
void on_run(CLI::App* cmd, const common_args& a, std::function<int()> run) {
  cmd->callback([cmd, &a, run = std::move(run)] {
    if (!a.config_file.empty()) {
      if (auto err = apply_config_file(cmd, a.config_file); !err.empty()) {
        set_exit_code(usage_error(cmd->get_name(), err));
        return;
      }
    }
    set_exit_code(run());
  });
}

}  // namespace

void add_worker_command(CLI::App& app) {
  auto* w = app.add_subcommand("worker",
                               "Event-driven functions: consume bucket events from Kafka and act on them");
  w->require_subcommand(1);

  auto ca = std::make_shared<common_args>();
  auto ra = std::make_shared<resize_args>();
  auto* resize =
      w->add_subcommand("image-resize", "Resize every new image into the destination bucket (libvips)");
  add_common_options(resize, *ca);
  resize
      ->add_option("--dest-bucket", ra->dest_bucket, "Bucket the resized images go to (created when missing)")
      ->capture_default_str();
  resize->add_option("--dest-prefix", ra->dest_prefix,
                     "Key prefix of the outputs; {bucket} = the source bucket");
  resize->add_option("--size", ra->sizes, "Box WxH, repeatable (default: 320x320 and 1024x1024)");
  resize->add_option("--format", ra->format, "Output format: webp|jpeg|avif|png")->capture_default_str();
  resize->add_option("--quality", ra->quality, "Quality 1-100 (webp, jpeg, avif)")->capture_default_str();
  resize->add_option("--fit", ra->fit, "inside (fit within the box) | cover (fill, crop) | fill (stretch)")
      ->capture_default_str();
  resize->add_flag("--enlarge", ra->enlarge, "Also scale images smaller than the box up");
  resize->add_option("--max-megapixels", ra->max_megapixels, "Larger images are dead-lettered")
      ->capture_default_str();
  resize->add_option("--memory-budget-mb", ra->memory_budget_mb, "Downloaded bytes held at once, MiB")
      ->capture_default_str();
  resize->add_option("--vips-threads", ra->vips_threads, "libvips threads per image")->capture_default_str();
  resize->add_flag("--no-create-bucket", ra->no_create_bucket, "Fail when the destination bucket is missing");
  on_run(resize, *ca, [ca, ra] { return run_image_resize(*ca, *ra); });

  auto ca2 = std::make_shared<common_args>();
  auto ea = std::make_shared<exec_args>();
  auto* ex = w->add_subcommand(
      "exec", "Run a command per event (event JSON on stdin, object in $SLUICE_OBJECT_PATH)");
  add_common_options(ex, *ca2);
  ex->add_option("--cmd", ea->command, "Command for /bin/sh -c (required)");
  ex->add_option("--timeout", ea->timeout_s, "Seconds a command may run")->capture_default_str();
  ex->add_option("--event", ea->events, "Event names to act on, repeatable (default: s3:ObjectCreated:*)");
  ex->add_option("--tmp-dir", ea->tmp_dir, "Folder for the downloaded objects (default: $TMPDIR or /tmp)");
  ex->add_flag("--no-download", ea->no_download, "Do not download objects (SLUICE_OBJECT_PATH stays empty)");
  ex->add_flag("--process-marked", ea->process_marked,
               "Also run for objects written by workers (loops are yours)");
  on_run(ex, *ca2, [ca2, ea] { return run_exec(*ca2, *ea); });
}

}  // namespace sluice::app
