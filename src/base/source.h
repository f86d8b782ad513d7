#pragma once
// A pull-based stream of bytes (request bodies, decoders, object readers).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "base/result.h"

namespace sluice {

class source {
 public:
  virtual ~source() = default;
  // Up to n bytes into buf; 0 means end of stream. After an error the source is unusable.
  virtual result<size_t> read(char* buf, size_t n) = 0;
};

// A source over bytes in memory (tests, small bodies). Does not own the bytes.
class memory_source final : public source {
 public:
  explicit memory_source(std::string_view data) : data_(data) {}
  result<size_t> read(char* buf, size_t n) override {
    size_t k = std::min(n, data_.size());
    std::copy_n(data_.data(), k, buf);
    data_.remove_prefix(k);
    return k;
  }

 private:
  std::string_view data_;
};

// Hands on another source's bytes no faster than `bytes_per_sec` (0 = no
// limit): read() sleeps until the bytes read so far are due at that pace,
// counted from the first read. For bulk writes that should not crowd a
// device others need short waits on (the stream engine's uploads share the
// disk with its write-ahead log: docs/BENCHMARKS.md, "Stream engine"). While
// `hurry` returns true (checked before and during each sleep, at least every
// 10 ms) it reads at full speed; it is called from the reading thread.
class paced_source final : public source {
 public:
  paced_source(source& inner, uint64_t bytes_per_sec, std::function<bool()> hurry = {});
  result<size_t> read(char* buf, size_t n) override;

 private:
  source& inner_;
  uint64_t bytes_per_sec_;
  std::function<bool()> hurry_;
  std::chrono::steady_clock::time_point start_{};
  uint64_t read_ = 0;
  bool started_ = false;
};

// Reads a whole source into a string, failing past max bytes.
result<std::string> read_all(source& s, size_t max, const error& too_large);

}  // namespace sluice
