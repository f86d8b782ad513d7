#include "base/source.h"

#include <algorithm>
#include <thread>

namespace sluice {

result<std::string> read_all(source& s, size_t max, const error& too_large) {
  std::string out;
  char buf[64 * 1024];
  for (;;) {
    SLUICE_TRY(size_t n, s.read(buf, sizeof buf));
    if (n == 0) return out;
    if (out.size() + n > max) return fail(too_large);
    out.append(buf, n);
  }
}

paced_source::paced_source(source& inner, uint64_t bytes_per_sec, std::function<bool()> hurry)
    : inner_(inner), bytes_per_sec_(bytes_per_sec), hurry_(std::move(hurry)) {}

result<size_t> paced_source::read(char* buf, size_t n) {
  using namespace std::chrono;
  if (!started_) {
    started_ = true;
    start_ = steady_clock::now();
  }
  if (bytes_per_sec_ > 0 && read_ > 0) {
    // The bytes read so far are due at start + read_ / rate: wait for that
    // before handing on more, so the pace holds over the whole body.
    auto due = start_ + duration_cast<steady_clock::duration>(duration<double>(
                            static_cast<double>(read_) / static_cast<double>(bytes_per_sec_)));
    for (;;) {
      if (hurry_ && hurry_()) break;
      auto now = steady_clock::now();
      if (now >= due) break;
      std::this_thread::sleep_for(std::min<steady_clock::duration>(due - now, milliseconds(10)));
    }
  }
  SLUICE_TRY(size_t k, inner_.read(buf, n));
  read_ += k;
  return k;
}

}  // namespace sluice
