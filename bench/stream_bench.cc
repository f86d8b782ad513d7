// sluice-stream-bench: the stream engine end to end on this machine's disk
// (docs/BENCHMARKS.md). In one run it measures
//   1. the device: fdatasync latency of 4 KiB writes, sequential write bandwidth;
//   2. appends through the engine (WAL on a file, objects in an in-process
//      object layer on the same disk): throughput and ack latency p50/p99/p999
//      at several offered loads, object-store PUTs per GB written;
//   3. catch-up reads with empty engine caches from objects beside the object
//      layer's raw GET throughput of the same objects, once with the page
//      cache of the store's files dropped (both read the device) and once
//      with it warm (both copy from memory).
// Prints a table and one JSON line per figure.
#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

#include "base/allocator.h"
#include "base/byte_arena.h"
#include "device_probe.h"
#include "objstore/local_store.h"
#include "stream/engine.h"

using namespace sluice;
using namespace std::chrono;
namespace fsys = std::filesystem;

namespace {

using bench::device_fsync;
using bench::device_seq_write;
using bench::drop_page_cache;
using bench::pct;
using bench::percentiles;

void json_line(const std::string& name, const std::string& fields) {
  std::printf("{\"bench\":\"stream\",\"figure\":\"%s\",%s}\n", name.c_str(), fields.c_str());
}

struct setup {
  std::unique_ptr<objstore::object_layer> layer;
  std::unique_ptr<stream::object_storage> storage;
  std::unique_ptr<stream::meta::meta_store> meta;
  std::unique_ptr<stream::engine> engine;
};

// objects_dir: where the object layer keeps the uploads; empty = dir/objects,
// on the disk under test beside the WAL.
setup open_all(const std::string& dir, const stream::engine_options& opts, uint64_t wal_capacity,
               const std::string& objects_dir = {}) {
  setup s;
  auto layer = objstore::open_local_store({objects_dir.empty() ? dir + "/objects" : objects_dir});
  if (!layer) std::exit(1);
  s.layer = std::move(layer).value();
  auto st = stream::make_local_storage(*s.layer, "stream-bench", "root");
  if (!st) std::exit(1);
  s.storage = std::move(st).value();
  auto m = stream::meta::open_sqlite(dir + "/meta.db");
  if (!m) std::exit(1);
  s.meta = std::move(m).value();
  auto dev = stream::wal::open_file_device(dir + "/wal", wal_capacity, true);
  if (!dev) {
    std::fprintf(stderr, "wal: %s\n", dev.error().message().c_str());
    std::exit(1);
  }
  auto e = stream::open_engine(opts, std::move(dev).value(), *s.meta, *s.storage);
  if (!e) {
    std::fprintf(stderr, "engine: %s\n", e.error().message().c_str());
    std::exit(1);
  }
  s.engine = std::move(e).value();
  return s;
}

struct load_result {
  double offered_mbs, achieved_mbs;
  percentiles lat;
  uint64_t records, errors;
};

// Producers append `size`-byte records round-robin over the streams at an
// aggregate rate (0 = as fast as the engine acks, with a bounded window). A
// paced producer sleeps only when its next record is due at least `wake`
// ahead and then sends every record that is due (as a Kafka producer's
// linger does): with 1 KiB records, a sleep per record meant 50,000 wake-ups
// a second at 50 MB/s on the cores the engine under test runs on. Each
// record's latency counts from its own send.
load_result run_load(stream::engine& e, const std::vector<stream::stream_id>& streams, int producers,
                     size_t size, double rate_mbs, double seconds, microseconds wake) {
  std::atomic<uint64_t> records{0}, errors{0}, bytes{0};
  std::mutex mu;
  std::vector<double> lat;
  auto start = steady_clock::now();
  auto stop_at = start + duration<double>(seconds);
  std::vector<std::thread> threads;
  for (int p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      std::atomic<int> in_flight{0};
      std::vector<double> mine;
      std::mutex mine_mu;
      std::string payload(size, static_cast<char>('a' + p));
      byte_arena arena;
      double per_sec = rate_mbs > 0 ? rate_mbs * 1e6 / size / producers : 0;
      uint64_t n = 0;
      while (steady_clock::now() < stop_at) {
        if (per_sec > 0) {
          auto due = start + duration<double>(n / per_sec);
          if (due > steady_clock::now() + wake) std::this_thread::sleep_until(due);
        } else {
          while (in_flight.load() >= 64) std::this_thread::sleep_for(microseconds(50));
        }
        auto id = streams[(n * producers + p) % streams.size()];
        ++n;
        auto t0 = steady_clock::now();
        in_flight++;
        stream::append_request req;
        req.payload = arena.copy(payload);  // as the Kafka produce handler does
        req.count = 1;
        e.append(id, std::move(req), [&, t0](result<stream::append_result> r) {
          double ms = duration<double, std::milli>(steady_clock::now() - t0).count();
          if (r) {
            records++;
            bytes += size;
            std::lock_guard lk(mine_mu);
            mine.push_back(ms);
          } else {
            errors++;
          }
          in_flight--;
        });
      }
      while (in_flight.load() > 0) std::this_thread::sleep_for(milliseconds(1));
      std::lock_guard lk(mu);
      lat.insert(lat.end(), mine.begin(), mine.end());
    });
  }
  for (auto& t : threads) t.join();
  double secs = duration<double>(steady_clock::now() - start).count();
  return {rate_mbs, bytes.load() / secs / 1e6, pct(lat), records.load(), errors.load()};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"sluice-stream-bench: stream engine append latency/throughput and catch-up reads"};
  std::string dir = "bench-stream";
  double seconds = 8;
  size_t record = 1024;
  std::vector<double> rates = {10, 50, 100, 0};
  int streams_n = 16, producers = 4;
  size_t catchup_mb = 512;
  app.add_option("--dir", dir, "Scratch folder on the disk under test (emptied)");
  app.add_option("--seconds", seconds, "Duration of each load step");
  app.add_option("--record", record, "Record (batch) size in bytes");
  app.add_option("--rates", rates, "Offered loads in MB/s; 0 = unthrottled")->delimiter(',');
  app.add_option("--streams", streams_n, "Streams (partitions)");
  app.add_option("--producers", producers, "Producer threads");
  app.add_option("--catchup-mb", catchup_mb, "Data written before the catch-up read (0: no catch-up step)");
  int catchup_tries = 3;
  app.add_option("--catchup-tries", catchup_tries,
                 "Tries of each catch-up pass (engine and raw alternating; best counts)")
      ->check(CLI::Range(1, 20));
  std::string objects_dir;
  app.add_option("--objects-dir", objects_dir,
                 "Object layer folder for the append steps (emptied; default: DIR/objects, the disk under "
                 "test). A folder on another device, or on tmpfs, stands in for a remote S3 service: the "
                 "disk then writes each byte once (the WAL) instead of twice (WAL and object)");
  int64_t wake_us = 1000;
  app.add_option("--wake-us", wake_us,
                 "A paced producer sleeps only when its next record is due this far ahead (0 = before every "
                 "record)");
  uint32_t upload_pace = stream::engine_options{}.upload_pace;
  app.add_option("--upload-pace", upload_pace,
                 "Uploads paced at this many times their data's incoming rate (0 = full speed), as "
                 "s3.wal.upload.pace");
  CLI11_PARSE(app, argc, argv);
  sluice::grow_heaps_in_large_steps();  // as `sluice server` does
  spdlog::set_level(spdlog::level::warn);
  fsys::remove_all(dir);
  fsys::create_directories(dir);
  dir = fsys::absolute(dir).string();
  if (!objects_dir.empty()) {
    fsys::remove_all(objects_dir);
    fsys::create_directories(objects_dir);
    objects_dir = fsys::absolute(objects_dir).string();
  }

  auto fs = device_fsync(dir, 2000);
  double seq = device_seq_write(dir, 1ull << 30);
  bench::device_settle(dir, fs.p99);
  std::printf("device: fdatasync 4 KiB p50 %.3f ms p99 %.3f ms p999 %.3f ms; sequential write %.0f MB/s\n",
              fs.p50, fs.p99, fs.p999, seq);
  json_line("device", fmt::format("\"fsync_p50_ms\":{:.3f},\"fsync_p99_ms\":{:.3f},\"fsync_p999_ms\":{:.3f},"
                                  "\"seq_write_mbs\":{:.0f}",
                                  fs.p50, fs.p99, fs.p999, seq));

  stream::engine_options opts;
  opts.janitor_interval = hours(1);  // compaction measured separately
  opts.upload_pace = upload_pace;
  std::jthread warm_arena([&](std::stop_token stop) {  // as `sluice server` does
    byte_arena::keep_ready(byte_arena::kReadyChunks, opts.log_cache_bytes, stop);
  });
  {
    auto s = open_all(dir, opts, 2ull << 30, objects_dir);
    std::vector<stream::stream_id> ids;
    for (int i = 0; i < streams_n; ++i) {
      auto st = s.engine->create_stream({{"bench", std::to_string(i)}});
      ids.push_back(st.value().id);
      (void)s.engine->open_stream(st.value().id);
    }
    std::printf("\n%10s %10s %9s %9s %9s %9s %8s\n", "offered", "achieved", "p50 ms", "p99 ms", "p999 ms",
                "max ms", "errors");
    for (double rate : rates) {
      auto r = run_load(*s.engine, ids, producers, record, rate, seconds, microseconds(wake_us));
      std::printf("%10s %8.1f MB/s %7.3f %9.3f %9.3f %9.3f %8llu\n",
                  rate > 0 ? fmt::format("{:.0f} MB/s", rate).c_str() : "max", r.achieved_mbs, r.lat.p50,
                  r.lat.p99, r.lat.p999, r.lat.max, static_cast<unsigned long long>(r.errors));
      json_line("append",
                fmt::format("\"offered_mbs\":{},\"achieved_mbs\":{:.1f},\"p50_ms\":{:.3f},\"p99_ms\":{:.3f},"
                            "\"p999_ms\":{:.3f},\"record\":{},\"streams\":{},\"producers\":{},\"wake_us\":{}",
                            rate, r.achieved_mbs, r.lat.p50, r.lat.p99, r.lat.p999, record, streams_n,
                            producers, wake_us));
    }
    (void)s.engine->flush();
    auto st = s.engine->stats();
    double gb = st.upload_bytes / 1e9;
    std::printf("\nuploads: %llu objects, %.2f GB, %llu PUT requests => %.1f PUTs per GB\n",
                static_cast<unsigned long long>(st.uploads), gb,
                static_cast<unsigned long long>(st.put_requests), gb > 0 ? st.put_requests / gb : 0.0);
    json_line("puts_per_gb", fmt::format("\"puts\":{},\"gb\":{:.3f},\"puts_per_gb\":{:.1f}", st.put_requests,
                                         gb, gb > 0 ? st.put_requests / gb : 0.0));
    s.engine->close();
  }
  if (!objects_dir.empty()) fsys::remove_all(objects_dir);

  if (catchup_mb == 0) {  // no catch-up step asked for
    fsys::remove_all(dir);
    return 0;
  }
  // Catch-up: fresh data, then a cold engine reads it all back from objects.
  fsys::remove_all(dir);
  fsys::create_directories(dir);
  std::vector<stream::stream_id> ids;
  {
    auto s = open_all(dir, opts, 2ull << 30);
    for (int i = 0; i < streams_n; ++i) {
      auto st = s.engine->create_stream({});
      ids.push_back(st.value().id);
      (void)s.engine->open_stream(st.value().id);
    }
    std::string payload(16 << 10, 'z');
    byte_arena arena;
    size_t n = (catchup_mb << 20) / payload.size();
    std::atomic<size_t> done{0};
    for (size_t i = 0; i < n; ++i) {
      stream::append_request req;
      req.payload = arena.copy(payload);
      while (i - done.load() > 256) std::this_thread::sleep_for(microseconds(100));
      s.engine->append(ids[i % ids.size()], std::move(req), [&](auto) { done++; });
    }
    while (done.load() < n) std::this_thread::sleep_for(milliseconds(1));
    (void)s.engine->flush();
    s.engine->close();
  }
  // Two passes: "cold" drops the page cache of every file under the folder
  // before each measurement (both read the device), "warm" reads what the
  // cold pass left in the page cache (both copy from memory).
  // Each pass runs `catchup_tries` times, engine and raw alternating, and the
  // best of each counts (as in run_s3.sh: on a shared machine interference
  // only lowers a figure). One try each let the order decide: right after the
  // append steps' gigabytes the device was slower for whichever pass went
  // first (cold ratios 0.30-0.44 after a full run, 0.75-0.88 without it).
  for (bool warm : {false, true}) {
    const char* state = warm ? "warm" : "cold";
    double catchup = 0, raw = 0;
    uint64_t gets = 0;
    for (int attempt = 0; attempt < catchup_tries; ++attempt) {
      if (!warm) drop_page_cache(dir);
      stream::engine_options cold = opts;
      cold.background = false;
      auto s = open_all(dir, cold, 2ull << 30);
      auto t0 = steady_clock::now();
      uint64_t bytes = 0;
      for (auto id : ids) {
        auto st = s.engine->status(id).value();
        stream::offset cur = st.start;
        while (cur < st.end) {
          auto r = s.engine->read(id, cur, {.max_bytes = 1 << 20});
          if (!r || r.value().empty()) {
            std::fprintf(stderr, "catch-up read failed at %lld\n", static_cast<long long>(cur));
            return 1;
          }
          for (const auto& rec : r.value()) {
            bytes += rec->payload.size();
            cur = rec->end();
          }
        }
      }
      catchup = std::max(catchup, bytes / duration<double>(steady_clock::now() - t0).count() / 1e6);
      gets = s.engine->stats().get_requests;
      // Raw GETs of the same objects through the same storage interface.
      auto listed = s.storage->list("").value();
      if (!warm) drop_page_cache(dir);
      auto t1 = steady_clock::now();
      uint64_t raw_bytes = 0;
      for (const auto& o : listed) {
        for (uint64_t off = 0; off < o.size; off += 8 << 20) {
          auto g = s.storage->get(o.key, off, 8 << 20);
          if (!g) return 1;
          raw_bytes += g.value().size();
        }
      }
      raw = std::max(raw, raw_bytes / duration<double>(steady_clock::now() - t1).count() / 1e6);
    }
    std::printf(
        "\ncatch-up read (engine caches empty, page cache %s, best of %d): %.0f MB/s, %llu GETs; raw GET of "
        "the same objects: %.0f MB/s; ratio %.2f\n",
        state, catchup_tries, catchup, static_cast<unsigned long long>(gets), raw, catchup / raw);
    json_line(
        "catchup",
        fmt::format("\"page_cache\":\"{}\",\"catchup_mbs\":{:.0f},\"raw_get_mbs\":{:.0f},\"ratio\":{:.2f},"
                    "\"gets\":{},\"tries\":{}",
                    state, catchup, raw, catchup / raw, gets, catchup_tries));
  }
  fsys::remove_all(dir);
  return 0;
}
