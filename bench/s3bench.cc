// sluice-s3bench: a warp-like S3 load generator, plus the baselines the S3
// benchmark compares against (docs/BENCHMARKS.md).
//
// Load modes (put, get, mixed) run `--concurrency` workers for `--duration`
// seconds; each worker owns one keep-alive HTTP/1.1 connection and issues one
// request at a time, signed with SigV4 (UNSIGNED-PAYLOAD) unless --no-sign.
// A GET counts only when the status is 200 and exactly `--size` bytes arrived
// (and, with --verify, they are the bytes `prepare` wrote), so error pages are
// never measured as throughput.
//
// Objects: `prepare` PUTs `--objects` objects of `--size` bytes named
// <key-prefix><size>-<i>; object i is a fixed pseudo-random pattern for that
// size with i stamped in its first 8 bytes. `prepare-files` writes the same
// bytes as files <dir>/<bucket>/<key>, for a static web server to serve.
// PUTs in put/mixed overwrite `--put-keys` keys per worker, so disk use is
// bounded by concurrency * put-keys * size.
//
// raw-write is the disk's PUT ceiling: each worker writes whole files with
// write(), fdatasync(), close() and rename() over the previous one.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <latch>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "http/client.h"
#include "s3/auth/sigv4.h"

namespace {

using clock_type = std::chrono::steady_clock;

// ------------------------------------------------------------------ options

struct options {
  std::string mode;
  std::string endpoint = "http://127.0.0.1:9000";
  std::string host;  // parsed from endpoint
  uint16_t port = 0;
  std::string url_prefix;  // path before /<bucket>/<key>, e.g. "/static"
  std::string bucket = "s3bench";
  std::string key_prefix = "s3bench-";
  std::string access_key;
  std::string secret_key;
  std::string region = "us-east-1";
  bool sign = true;
  uint64_t size = 1 << 20;
  std::string size_label = "1MiB";
  int concurrency = 8;
  double duration_s = 10;
  int objects = 0;  // 0: chosen from size
  int put_keys = 2;
  double get_fraction = 0.7;  // mixed mode
  bool verify = false;
  bool prepare = true;
  bool create_bucket = true;
  bool json = false;
  std::string label;
  std::string dir;
  double timeout_s = 120;
};

[[noreturn]] void usage(int code) {
  std::fputs(
      R"(usage: sluice-s3bench MODE [options]

modes:
  put | get | mixed   load an S3 endpoint (or, with --no-sign, any HTTP server for get)
  prepare             create the bucket and PUT the --objects objects that get/mixed read
  verify              GET each of those objects once and compare every byte (exit 1 on a mismatch)
  prepare-files       write those objects as files <dir>/<bucket>/<key> (for a static web server)
  raw-write           write()+fdatasync()+rename() files of --size under --dir (the PUT ceiling)

options:
  --endpoint URL        http://host:port[/path-prefix]               (default http://127.0.0.1:9000)
  --bucket NAME         (default s3bench)
  --key-prefix P        object keys are P<size>-<i>                  (default s3bench-)
  --access-key K        (default $SLUICE_BENCH_ACCESS_KEY, $AWS_ACCESS_KEY_ID)
  --secret-key S        (default $SLUICE_BENCH_SECRET_KEY, $AWS_SECRET_ACCESS_KEY)
  --region R            (default us-east-1)
  --no-sign             plain unsigned requests (static web servers); implies --no-prepare
  --size N              bytes, or with a unit: 4KiB, 1MiB, 64MiB, 4k, 1m (default 1MiB)
  --concurrency N       workers, each with one keep-alive connection (default 8)
  --duration SECONDS    how long to issue requests (default 10); the run stops by itself
  --objects N           objects prepared for and read by get/mixed (default: 256 for <=64KiB,
                        64 for <=4MiB, 8 above)
  --put-keys N          keys each worker overwrites in put/mixed/raw-write (default 2)
  --get-fraction F      share of GETs in mixed (default 0.7)
  --verify              compare every GET body with the prepared bytes
  --no-prepare          get/mixed: the objects already exist
  --no-create-bucket    prepare: the bucket already exists
  --dir DIR             prepare-files, raw-write
  --timeout SECONDS     per socket wait (default 120)
  --label NAME          name of the system under test in the report
  --json                one line of JSON instead of the text report
)",
      code == 0 ? stdout : stderr);
  std::exit(code);
}

[[noreturn]] void die(const std::string& msg) {
  std::fprintf(stderr, "sluice-s3bench: %s\n", msg.c_str());
  std::exit(2);
}

std::optional<uint64_t> parse_size(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
  if (i == 0) return std::nullopt;
  uint64_t n = std::stoull(std::string(s.substr(0, i)));
  std::string unit(s.substr(i));
  for (auto& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  uint64_t mult = 0;
  if (unit.empty() || unit == "b") mult = 1;
  else if (unit == "k" || unit == "kib" || unit == "kb") mult = 1ull << 10;
  else if (unit == "m" || unit == "mib" || unit == "mb") mult = 1ull << 20;
  else if (unit == "g" || unit == "gib" || unit == "gb") mult = 1ull << 30;
  else return std::nullopt;
  return n * mult;
}

std::string size_label(uint64_t n) {
  if (n >= (1ull << 30) && n % (1ull << 30) == 0) return fmt::format("{}GiB", n >> 30);
  if (n >= (1ull << 20) && n % (1ull << 20) == 0) return fmt::format("{}MiB", n >> 20);
  if (n >= (1ull << 10) && n % (1ull << 10) == 0) return fmt::format("{}KiB", n >> 10);
  return fmt::format("{}B", n);
}

std::string env_or(const char* a, const char* b) {
  if (const char* v = std::getenv(a); v && *v) return v;
  if (const char* v = std::getenv(b); v && *v) return v;
  return {};
}

options parse_args(int argc, char** argv) {
  if (argc < 2) usage(2);
  options o;
  o.mode = argv[1];
  if (o.mode == "-h" || o.mode == "--help") usage(0);
  if (o.mode != "put" && o.mode != "get" && o.mode != "mixed" && o.mode != "prepare" && o.mode != "verify" &&
      o.mode != "prepare-files" && o.mode != "raw-write") {
    die("unknown mode '" + o.mode + "' (see --help)");
  }
  o.access_key = env_or("SLUICE_BENCH_ACCESS_KEY", "AWS_ACCESS_KEY_ID");
  o.secret_key = env_or("SLUICE_BENCH_SECRET_KEY", "AWS_SECRET_ACCESS_KEY");
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) die("missing value for " + a);
      return argv[++i];
    };
    auto number = [&](double min) {
      std::string v = value();
      char* end = nullptr;
      double d = std::strtod(v.c_str(), &end);
      if (end == v.c_str() || (*end && std::string_view(end) != "s") || d < min) die("bad value for " + a + ": " + v);
      return d;
    };
    if (a == "-h" || a == "--help") usage(0);
    else if (a == "--endpoint") o.endpoint = value();
    else if (a == "--bucket") o.bucket = value();
    else if (a == "--key-prefix") o.key_prefix = value();
    else if (a == "--access-key") o.access_key = value();
    else if (a == "--secret-key") o.secret_key = value();
    else if (a == "--region") o.region = value();
    else if (a == "--no-sign") o.sign = false;
    else if (a == "--size") {
      std::string v = value();
      auto n = parse_size(v);
      if (!n || *n == 0) die("bad size: " + v);
      o.size = *n;
    } else if (a == "--concurrency") o.concurrency = static_cast<int>(number(1));
    else if (a == "--duration") o.duration_s = number(0.1);
    else if (a == "--objects") o.objects = static_cast<int>(number(1));
    else if (a == "--put-keys") o.put_keys = static_cast<int>(number(1));
    else if (a == "--get-fraction") o.get_fraction = std::min(1.0, number(0));
    else if (a == "--verify") o.verify = true;
    else if (a == "--no-prepare") o.prepare = false;
    else if (a == "--no-create-bucket") o.create_bucket = false;
    else if (a == "--dir") o.dir = value();
    else if (a == "--timeout") o.timeout_s = number(0.1);
    else if (a == "--label") o.label = value();
    else if (a == "--json") o.json = true;
    else die("unknown option " + a + " (see --help)");
  }
  o.size_label = size_label(o.size);
  if (o.objects == 0) o.objects = o.size <= (64u << 10) ? 256 : o.size <= (4u << 20) ? 64 : 8;
  if (!o.sign) o.prepare = false;
  if (o.mode == "verify") o.verify = true;
  if (o.label.empty()) o.label = o.mode == "raw-write" ? "raw" : o.endpoint;
  if ((o.mode == "prepare-files" || o.mode == "raw-write") && o.dir.empty()) die(o.mode + " needs --dir");
  if (o.mode == "prepare-files" || o.mode == "raw-write") return o;
  // http://host:port[/prefix]
  std::string_view ep = o.endpoint;
  if (!ep.starts_with("http://")) die("endpoint must be http://host:port: " + o.endpoint);
  ep.remove_prefix(7);
  size_t slash = ep.find('/');
  std::string_view hostport = ep.substr(0, slash);
  if (slash != std::string_view::npos) {
    o.url_prefix = std::string(ep.substr(slash));
    while (!o.url_prefix.empty() && o.url_prefix.back() == '/') o.url_prefix.pop_back();
  }
  size_t colon = hostport.rfind(':');
  if (colon == std::string_view::npos) {
    o.host = std::string(hostport);
    o.port = 80;
  } else {
    o.host = std::string(hostport.substr(0, colon));
    o.port = static_cast<uint16_t>(std::stoi(std::string(hostport.substr(colon + 1))));
  }
  if (o.host.starts_with('[') && o.host.ends_with(']')) o.host = o.host.substr(1, o.host.size() - 2);
  if (o.sign && (o.access_key.empty() || o.secret_key.empty())) die("signing needs --access-key and --secret-key");
  return o;
}

// ------------------------------------------------------------------ payload

// The bytes of every object of one size: a fixed pseudo-random pattern (not
// compressible, identical across runs and systems) with the object's index
// stamped little-endian into the first 8 bytes.
class payload {
 public:
  explicit payload(uint64_t size) : bytes_(size, '\0') {
    uint64_t x = 0x9e3779b97f4a7c15ull ^ size;  // splitmix64
    for (size_t i = 0; i < bytes_.size(); i += 8) {
      x += 0x9e3779b97f4a7c15ull;
      uint64_t z = x;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
      z ^= z >> 31;
      std::memcpy(bytes_.data() + i, &z, std::min<size_t>(8, bytes_.size() - i));
    }
  }
  // The pattern without a stamp (PUT bodies of the load phase).
  std::string_view pattern() const { return bytes_; }
  // Object i's bytes, built in `out` (reused across calls).
  void object(uint64_t i, std::string& out) const {
    out = bytes_;
    std::memcpy(out.data(), &i, std::min<size_t>(8, out.size()));
  }
  // Whether `piece`, found at `offset` in object i, holds the right bytes.
  bool matches(uint64_t i, uint64_t offset, std::string_view piece) const {
    if (offset + piece.size() > bytes_.size()) return false;
    uint64_t stamp_end = std::min<uint64_t>(8, bytes_.size());
    size_t head = offset < stamp_end ? static_cast<size_t>(std::min<uint64_t>(stamp_end - offset, piece.size())) : 0;
    if (head > 0 && std::memcmp(piece.data(), reinterpret_cast<const char*>(&i) + offset, head) != 0) return false;
    return std::memcmp(piece.data() + head, bytes_.data() + offset + head, piece.size() - head) == 0;
  }

 private:
  std::string bytes_;
};

// ------------------------------------------------------------------ statistics

// Latencies in nanoseconds, log-linear buckets: exact below 64 ns, then 32
// buckets per power of two (at most ~3% relative error), up to ~73 minutes.
class histogram {
 public:
  void record(uint64_t ns) {
    counts_[index(ns)]++;
    ++count_;
    sum_ += ns;
    max_ = std::max(max_, ns);
  }
  void merge(const histogram& o) {
    for (size_t i = 0; i < kBuckets; ++i) counts_[i] += o.counts_[i];
    count_ += o.count_;
    sum_ += o.sum_;
    max_ = std::max(max_, o.max_);
  }
  uint64_t count() const { return count_; }
  double mean_ns() const { return count_ ? static_cast<double>(sum_) / static_cast<double>(count_) : 0; }
  uint64_t max_ns() const { return max_; }
  // The value below which a fraction q of the samples fall (bucket midpoint).
  double quantile_ns(double q) const {
    if (count_ == 0) return 0;
    uint64_t rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_)));
    rank = std::clamp<uint64_t>(rank, 1, count_);
    uint64_t seen = 0;
    for (size_t i = 0; i < kBuckets; ++i) {
      seen += counts_[i];
      if (seen >= rank) return std::min(midpoint(i), static_cast<double>(max_));
    }
    return static_cast<double>(max_);
  }

 private:
  static constexpr int kSubBits = 5;
  static constexpr size_t kLinear = 64;
  static constexpr size_t kBuckets = kLinear + (42 - 6 + 1) * (1 << kSubBits);

  static size_t index(uint64_t v) {
    if (v < kLinear) return static_cast<size_t>(v);
    int k = std::min(63 - std::countl_zero(v), 42);
    if (k == 42 && (v >> 42) > 1) return kBuckets - 1;
    uint64_t sub = (v >> (k - kSubBits)) & ((1u << kSubBits) - 1);
    return kLinear + static_cast<size_t>(k - 6) * (1u << kSubBits) + static_cast<size_t>(sub);
  }
  static double midpoint(size_t i) {
    if (i < kLinear) return static_cast<double>(i);
    size_t j = i - kLinear;
    int k = static_cast<int>(j >> kSubBits) + 6;
    uint64_t sub = j & ((1u << kSubBits) - 1);
    double width = std::ldexp(1.0, k - kSubBits);
    return std::ldexp(1.0, k) + static_cast<double>(sub) * width + width / 2;
  }

  std::array<uint64_t, kBuckets> counts_{};
  uint64_t count_ = 0;
  uint64_t sum_ = 0;
  uint64_t max_ = 0;
};

struct op_stats {
  histogram latency;
  uint64_t bytes = 0;
  uint64_t errors = 0;
  void merge(const op_stats& o) {
    latency.merge(o.latency);
    bytes += o.bytes;
    errors += o.errors;
  }
};

enum op_kind { op_get = 0, op_put = 1 };
constexpr const char* kOpNames[] = {"get", "put"};

struct worker_result {
  std::array<op_stats, 2> ops;
  uint64_t connects = 0;
};

// The first few failures, for the report: a benchmark with errors must say why.
class error_log {
 public:
  void add(const std::string& what) {
    std::lock_guard lock(mu_);
    if (first_.size() < 5) first_.push_back(what);
  }
  std::vector<std::string> first() const {
    std::lock_guard lock(mu_);
    return first_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> first_;
};

// ------------------------------------------------------------------ S3 client

class s3_client {
 public:
  explicit s3_client(const options& o)
      : o_(o), conn_(o.host, o.port, std::chrono::milliseconds(static_cast<int64_t>(o.timeout_s * 1000))),
        host_header_(o.port == 80 ? o.host : o.host + ":" + std::to_string(o.port)) {}

  std::string key(uint64_t i) const { return o_.key_prefix + o_.size_label + "-" + std::to_string(i); }
  std::string put_key(int worker, uint64_t n) const {
    return o_.key_prefix + o_.size_label + "-put-w" + std::to_string(worker) + "-" + std::to_string(n);
  }

  sluice::result<sluice::http::client_response> call(const std::string& method, const std::string& key,
                                                     std::string_view body,
                                                     const sluice::http::connection::body_sink& sink) {
    std::string path = o_.url_prefix + "/" + o_.bucket + (key.empty() ? "" : "/" + key);
    std::vector<std::pair<std::string, std::string>> headers{{"Host", host_header_}};
    if (o_.sign) {
      sluice::s3::auth::sign_input in;
      in.method = method;
      in.raw_path = path;
      in.headers = {{"host", host_header_}};
      in.payload_sha256 = "UNSIGNED-PAYLOAD";
      in.access_key = o_.access_key;
      in.secret_key = o_.secret_key;
      in.region = o_.region;
      in.now = std::chrono::system_clock::now();
      for (auto& h : sluice::s3::auth::sign(in)) headers.push_back(std::move(h));
    }
    return conn_.request(method, path, headers, body, sink);
  }

  uint64_t connects() const { return conn_.connects(); }

 private:
  const options& o_;
  sluice::http::connection conn_;
  std::string host_header_;
};

std::string describe_failure(const std::string& what, const sluice::http::client_response& r) {
  std::string body = r.body.substr(0, 200);
  for (auto& c : body) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return fmt::format("{}: HTTP {} {}", what, r.status, body);
}

// One GET of object i; true when it answered 200 with exactly the object's bytes.
bool get_object(s3_client& c, const options& o, const payload& p, uint64_t i, op_stats& st, error_log& errs) {
  uint64_t received = 0;
  bool intact = true;
  std::string head;  // the start of the body, to show what an error page said
  auto sink = [&](std::string_view piece) {
    if (head.size() < 200) head.append(piece.substr(0, 200 - head.size()));
    if (o.verify && intact) intact = p.matches(i, received, piece);
    received += piece.size();
  };
  std::string key = c.key(i);
  auto r = c.call("GET", key, {}, sink);
  if (!r) {
    st.errors++;
    errs.add("GET " + key + ": " + r.error().message());
    return false;
  }
  if (r.value().status != 200) {
    st.errors++;
    r.value().body = head;
    errs.add(describe_failure("GET " + key, r.value()));
    return false;
  }
  if (received != o.size || !intact) {
    st.errors++;
    errs.add(fmt::format("GET {}: {} bytes{} (expected {})", key, received, intact ? "" : ", wrong content", o.size));
    return false;
  }
  st.bytes += received;
  return true;
}

bool put_object(s3_client& c, const std::string& key, std::string_view body, op_stats& st, error_log& errs) {
  auto r = c.call("PUT", key, body, {});
  if (!r) {
    st.errors++;
    errs.add("PUT " + key + ": " + r.error().message());
    return false;
  }
  if (r.value().status != 200) {
    st.errors++;
    errs.add(describe_failure("PUT " + key, r.value()));
    return false;
  }
  st.bytes += body.size();
  return true;
}

// ------------------------------------------------------------------ runs

struct run_result {
  std::array<op_stats, 2> ops;
  double elapsed_s = 0;
  uint64_t connects = 0;
  std::vector<std::string> first_errors;
};

// Runs `body(worker, stats, deadline)` on `concurrency` threads started
// together; elapsed time is from the common start until the last worker ends
// (an operation in flight at the deadline completes and counts).
template <class Body>
run_result run_workers(int concurrency, double duration_s, Body body) {
  std::vector<worker_result> results(static_cast<size_t>(concurrency));
  std::latch ready(concurrency + 1);
  std::latch go(1);
  clock_type::time_point deadline;
  std::vector<std::thread> threads;
  for (int w = 0; w < concurrency; ++w) {
    threads.emplace_back([&, w] {
      ready.count_down();
      go.wait();
      body(w, results[static_cast<size_t>(w)], deadline);
    });
  }
  ready.arrive_and_wait();
  auto start = clock_type::now();
  deadline = start + std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(duration_s));
  go.count_down();
  for (auto& t : threads) t.join();
  run_result out;
  out.elapsed_s = std::chrono::duration<double>(clock_type::now() - start).count();
  for (auto& r : results) {
    for (size_t k = 0; k < 2; ++k) out.ops[k].merge(r.ops[k]);
    out.connects += r.connects;
  }
  return out;
}

void record(op_stats& st, clock_type::time_point t0) {
  st.latency.record(static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(clock_type::now() - t0).count()));
}

// Creates the bucket (when asked) and PUTs objects [0, objects).
bool prepare(const options& o, const payload& p) {
  error_log errs;
  if (o.create_bucket) {
    s3_client c(o);
    auto r = c.call("PUT", "", {}, {});
    if (!r) die("create bucket: " + r.error().message());
    // 409 BucketAlreadyOwnedByYou / BucketAlreadyExists: fine for a re-run.
    if (r.value().status != 200 && r.value().status != 409) die(describe_failure("create bucket", r.value()));
  }
  int threads = std::min(o.concurrency, 4);
  std::atomic<int> next{0};
  std::atomic<uint64_t> failed{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&] {
      s3_client c(o);
      std::string body;
      op_stats st;
      for (int i; (i = next.fetch_add(1)) < o.objects;) {
        p.object(static_cast<uint64_t>(i), body);
        if (!put_object(c, c.key(static_cast<uint64_t>(i)), body, st, errs)) failed++;
      }
    });
  }
  for (auto& t : ts) t.join();
  if (failed > 0) {
    for (auto& e : errs.first()) std::fprintf(stderr, "  %s\n", e.c_str());
    die(fmt::format("prepare: {} of {} PUTs failed", failed.load(), o.objects));
  }
  return true;
}

// GETs objects [0, objects) once each, comparing every byte.
bool verify_all(const options& o, const payload& p) {
  error_log errs;
  std::atomic<int> next{0};
  std::atomic<uint64_t> failed{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < std::min(o.concurrency, 4); ++t) {
    ts.emplace_back([&] {
      s3_client c(o);
      op_stats st;
      for (int i; (i = next.fetch_add(1)) < o.objects;) {
        if (!get_object(c, o, p, static_cast<uint64_t>(i), st, errs)) failed++;
      }
    });
  }
  for (auto& t : ts) t.join();
  for (auto& e : errs.first()) std::fprintf(stderr, "  %s\n", e.c_str());
  if (!o.json) std::printf("%s: %d objects of %s, %llu wrong\n", o.label.c_str(), o.objects, o.size_label.c_str(),
                           static_cast<unsigned long long>(failed.load()));
  return failed == 0;
}

run_result run_load(const options& o, const payload& p) {
  error_log errs;
  auto r = run_workers(o.concurrency, o.duration_s, [&](int w, worker_result& res, clock_type::time_point deadline) {
    s3_client c(o);
    std::mt19937_64 rng(0x5eed0000u + static_cast<uint64_t>(w));
    std::uniform_int_distribution<uint64_t> pick(0, static_cast<uint64_t>(o.objects) - 1);
    std::uniform_real_distribution<double> coin(0, 1);
    uint64_t puts = 0;
    while (clock_type::now() < deadline) {
      bool is_get = o.mode == "get" || (o.mode == "mixed" && coin(rng) < o.get_fraction);
      auto& st = res.ops[is_get ? op_get : op_put];
      auto t0 = clock_type::now();
      bool ok = is_get ? get_object(c, o, p, pick(rng), st, errs)
                       : put_object(c, c.put_key(w, puts++ % static_cast<uint64_t>(o.put_keys)), p.pattern(), st, errs);
      if (ok) {
        record(st, t0);
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));  // don't spin on a dead server
      }
    }
    res.connects = c.connects();
  });
  r.first_errors = errs.first();
  return r;
}

bool write_file(const std::string& tmp, const std::string& final_path, std::string_view data, bool sync,
                std::string& err) {
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    err = tmp + ": " + std::strerror(errno);
    return false;
  }
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      err = tmp + ": write: " + std::strerror(errno);
      ::close(fd);
      return false;
    }
    off += static_cast<size_t>(n);
  }
  if (sync && ::fdatasync(fd) != 0) {
    err = tmp + ": fdatasync: " + std::strerror(errno);
    ::close(fd);
    return false;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), final_path.c_str()) != 0) {
    err = final_path + ": rename: " + std::strerror(errno);
    return false;
  }
  return true;
}

void prepare_files(const options& o, const payload& p) {
  std::string dir = o.dir + "/" + o.bucket;
  if (::mkdir(o.dir.c_str(), 0755) != 0 && errno != EEXIST) die(o.dir + ": " + std::strerror(errno));
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) die(dir + ": " + std::strerror(errno));
  std::string body, err;
  for (int i = 0; i < o.objects; ++i) {
    p.object(static_cast<uint64_t>(i), body);
    std::string path = dir + "/" + o.key_prefix + o.size_label + "-" + std::to_string(i);
    if (!write_file(path + ".tmp", path, body, false, err)) die(err);
  }
}

run_result run_raw_write(const options& o, const payload& p) {
  if (::mkdir(o.dir.c_str(), 0755) != 0 && errno != EEXIST) die(o.dir + ": " + std::strerror(errno));
  error_log errs;
  auto r = run_workers(o.concurrency, o.duration_s, [&](int w, worker_result& res, clock_type::time_point deadline) {
    std::string tmp = fmt::format("{}/.tmp-w{}", o.dir, w);
    uint64_t n = 0;
    std::string err;
    while (clock_type::now() < deadline) {
      auto& st = res.ops[op_put];
      auto path = fmt::format("{}/{}{}-w{}-{}", o.dir, o.key_prefix, o.size_label, w, n++ % static_cast<uint64_t>(o.put_keys));
      auto t0 = clock_type::now();
      if (write_file(tmp, path, p.pattern(), true, err)) {
        st.bytes += o.size;
        record(st, t0);
      } else {
        st.errors++;
        errs.add(err);
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    }
  });
  r.first_errors = errs.first();
  return r;
}

// ------------------------------------------------------------------ report

std::string json_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\', out += c;
    else if (static_cast<unsigned char>(c) < 0x20) out += fmt::format("\\u{:04x}", c);
    else out += c;
  }
  return out;
}

struct figures {
  uint64_t ops = 0, bytes = 0, errors = 0;
  double ops_s = 0, mib_s = 0, p50_ms = 0, p99_ms = 0, mean_ms = 0, max_ms = 0;
};

figures summarize(const op_stats& st, double elapsed_s) {
  figures f;
  f.ops = st.latency.count();
  f.bytes = st.bytes;
  f.errors = st.errors;
  f.ops_s = elapsed_s > 0 ? static_cast<double>(f.ops) / elapsed_s : 0;
  f.mib_s = elapsed_s > 0 ? static_cast<double>(f.bytes) / elapsed_s / (1 << 20) : 0;
  f.p50_ms = st.latency.quantile_ns(0.50) / 1e6;
  f.p99_ms = st.latency.quantile_ns(0.99) / 1e6;
  f.mean_ms = st.latency.mean_ns() / 1e6;
  f.max_ms = static_cast<double>(st.latency.max_ns()) / 1e6;
  return f;
}

std::string figures_json(const figures& f) {
  return fmt::format(
      R"({{"ops":{},"bytes":{},"errors":{},"ops_per_s":{:.2f},"mib_per_s":{:.2f},"p50_ms":{:.3f},"p99_ms":{:.3f},"mean_ms":{:.3f},"max_ms":{:.3f}}})",
      f.ops, f.bytes, f.errors, f.ops_s, f.mib_s, f.p50_ms, f.p99_ms, f.mean_ms, f.max_ms);
}

void report(const options& o, const run_result& r) {
  op_stats total;
  for (const auto& s : r.ops) total.merge(s);
  figures all = summarize(total, r.elapsed_s);
  if (o.json) {
    std::string errs = "[";
    for (size_t i = 0; i < r.first_errors.size(); ++i) {
      errs += (i ? ",\"" : "\"") + json_escape(r.first_errors[i]) + "\"";
    }
    errs += "]";
    std::string line = fmt::format(
        R"({{"label":"{}","mode":"{}","size":{},"size_label":"{}","concurrency":{},"duration_s":{:.3f},"objects":{},"verify":{},"connects":{},)",
        json_escape(o.label), o.mode, o.size, o.size_label, o.concurrency, r.elapsed_s, o.objects,
        o.verify ? "true" : "false", r.connects);
    std::string all_json = figures_json(all);
    line += all_json.substr(1, all_json.size() - 2);  // the totals at the top level
    for (size_t k = 0; k < 2; ++k) {
      if (r.ops[k].latency.count() + r.ops[k].errors > 0) {
        line += fmt::format(R"(,"{}":{})", kOpNames[k], figures_json(summarize(r.ops[k], r.elapsed_s)));
      }
    }
    line += R"(,"first_errors":)" + errs + "}";
    std::puts(line.c_str());
    return;
  }
  std::printf("%s %s: size %s, concurrency %d, %.2f s, %d objects%s\n", o.label.c_str(), o.mode.c_str(),
              o.size_label.c_str(), o.concurrency, r.elapsed_s, o.objects, o.verify ? ", verified" : "");
  std::printf("  %-5s %10s %10s %11s %10s %10s %10s %8s\n", "op", "ops", "ops/s", "MiB/s", "p50 ms", "p99 ms",
              "max ms", "errors");
  auto line = [](const char* name, const figures& f) {
    std::printf("  %-5s %10llu %10.1f %11.1f %10.3f %10.3f %10.3f %8llu\n", name,
                static_cast<unsigned long long>(f.ops), f.ops_s, f.mib_s, f.p50_ms, f.p99_ms, f.max_ms,
                static_cast<unsigned long long>(f.errors));
  };
  for (size_t k = 0; k < 2; ++k) {
    if (r.ops[k].latency.count() + r.ops[k].errors > 0) line(kOpNames[k], summarize(r.ops[k], r.elapsed_s));
  }
  if (o.mode == "mixed") line("all", all);
  for (const auto& e : r.first_errors) std::printf("  error: %s\n", e.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  options o = parse_args(argc, argv);
  payload p(o.size);
  if (o.mode == "prepare-files") {
    prepare_files(o, p);
    return 0;
  }
  if (o.mode == "prepare") {
    prepare(o, p);
    return 0;
  }
  if (o.mode == "verify") return verify_all(o, p) ? 0 : 1;
  run_result r;
  if (o.mode == "raw-write") {
    r = run_raw_write(o, p);
  } else {
    if (o.mode != "put" && o.prepare) prepare(o, p);
    if (o.mode == "put" && o.sign && o.create_bucket) {
      options bucket_only = o;
      bucket_only.objects = 0;
      prepare(bucket_only, p);
    }
    r = run_load(o, p);
  }
  report(o, r);
  op_stats total;
  for (const auto& s : r.ops) total.merge(s);
  return total.errors > 0 ? 1 : 0;
}
