#pragma once
// The device baseline the stream benchmarks compare with, measured in the same
// run on files in the benchmark's folder: fdatasync latency of 4 KiB
// overwrites in a preallocated file (what a WAL flush costs) and sequential
// write bandwidth (1 MiB O_DIRECT writes, fdatasync every 16 MiB).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

namespace sluice::bench {

struct percentiles {
  double p50 = 0, p99 = 0, p999 = 0, max = 0;
};

inline percentiles pct(std::vector<double> v) {
  percentiles p;
  if (v.empty()) return p;
  std::sort(v.begin(), v.end());
  auto at = [&](double q) { return v[std::min(v.size() - 1, static_cast<size_t>(q * v.size()))]; };
  p.p50 = at(0.50);
  p.p99 = at(0.99);
  p.p999 = at(0.999);
  p.max = v.back();
  return p;
}

// Milliseconds per fdatasync of a 4 KiB overwrite, `count` samples.
inline percentiles device_fsync(const std::string& dir, int count) {
  using std::chrono::steady_clock;
  std::string path = dir + "/fsync.probe";
  int fd = ::open(path.c_str(), O_CREAT | O_RDWR | O_TRUNC, 0644);
  if (fd < 0) std::exit(1);
  std::vector<char> buf(4096, 'x');
  for (int i = 0; i < 256; ++i) (void)!::pwrite(fd, buf.data(), buf.size(), i * 4096L);
  ::fdatasync(fd);
  std::vector<double> lat;
  for (int i = 0; i < count; ++i) {
    auto t0 = steady_clock::now();
    (void)!::pwrite(fd, buf.data(), buf.size(), (i % 256) * 4096L);
    ::fdatasync(fd);
    lat.push_back(std::chrono::duration<double, std::milli>(steady_clock::now() - t0).count());
  }
  ::close(fd);
  ::unlink(path.c_str());
  return pct(lat);
}

// Drops the page cache of every regular file under `dir` (their data is on
// the device: written with fdatasync or O_DIRECT), so the next reads of them
// come from the device.
inline void drop_page_cache(const std::string& dir) {
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    int fd = ::open(e.path().c_str(), O_RDONLY);
    if (fd < 0) continue;
    ::fdatasync(fd);
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    ::close(fd);
  }
}

// MB/s writing `total` bytes sequentially.
inline double device_seq_write(const std::string& dir, size_t total) {
  using std::chrono::steady_clock;
  std::string path = dir + "/seq.probe";
  int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC | O_DIRECT, 0644);
  if (fd < 0) fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644);
  if (fd < 0) std::exit(1);
  void* mem = nullptr;
  if (posix_memalign(&mem, 4096, 1 << 20) != 0) std::exit(1);
  std::memset(mem, 'y', 1 << 20);
  auto t0 = steady_clock::now();
  for (size_t off = 0; off < total; off += 1 << 20) {
    if (::pwrite(fd, mem, 1 << 20, static_cast<off_t>(off)) != (1 << 20)) std::exit(1);
    if ((off + (1 << 20)) % (16 << 20) == 0) ::fdatasync(fd);
  }
  ::fdatasync(fd);
  double secs = std::chrono::duration<double>(steady_clock::now() - t0).count();
  ::close(fd);
  ::unlink(path.c_str());
  std::free(mem);
  return static_cast<double>(total) / secs / 1e6;
}

// After device_seq_write the device is busy for a while (the host flushes its
// cache, the deleted gigabyte is discarded): a load started at once sees WAL
// flushes of tens of ms for its first seconds. Waits until fdatasync latency
// is back near `baseline_p99` (p99 of 200 samples within 2x, twice in a row),
// at most `max_seconds`, and prints how long that took (or that it did not).
inline void device_settle(const std::string& dir, double baseline_p99, double max_seconds = 30) {
  using std::chrono::steady_clock;
  auto t0 = steady_clock::now();
  auto waited = [&] { return std::chrono::duration<double>(steady_clock::now() - t0).count(); };
  for (int good = 0; waited() < max_seconds;) {
    good = device_fsync(dir, 200).p99 <= 2 * baseline_p99 ? good + 1 : 0;
    if (good == 2) {
      std::printf("device: fdatasync back to its baseline %.1f s after the sequential write\n", waited());
      return;
    }
  }
  std::printf("device: fdatasync still above 2x its baseline p99 %.0f s after the sequential write\n",
              waited());
}

}  // namespace sluice::bench
