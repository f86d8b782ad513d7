#pragma once
// A pull-based stream of bytes (request bodies, decoders, object readers).
#include <cstddef>
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

// Reads a whole source into a string, failing past max bytes.
result<std::string> read_all(source& s, size_t max, const error& too_large);

}  // namespace sluice
