// paced_source: bytes pass through unchanged, no faster than the pace unless
// the caller says to hurry.
#include "base/source.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>

namespace sluice {
namespace {

using namespace std::chrono;

std::string body(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + i % 23);
  return s;
}

// Reads everything in `chunk`-sized reads; the bytes and the time it took.
std::pair<std::string, duration<double>> drain(source& s, size_t chunk) {
  std::string out, buf(chunk, '\0');
  auto t0 = steady_clock::now();
  for (;;) {
    auto n = s.read(buf.data(), buf.size());
    EXPECT_TRUE(n.has_value());
    if (!n || n.value() == 0) break;
    out.append(buf.data(), n.value());
  }
  return {out, steady_clock::now() - t0};
}

TEST(PacedSource, HandsOnTheBytesNoFasterThanThePace) {
  const std::string data = body(4 << 20);
  memory_source inner(data);
  paced_source paced(inner, 20 << 20);  // 4 MiB at 20 MiB/s: the last MiB is due after 150 ms
  auto [out, took] = drain(paced, 1 << 20);
  EXPECT_TRUE(out == data);
  EXPECT_GE(took, milliseconds(150));
}

TEST(PacedSource, WithoutAPaceOrWhenHurriedItDoesNotWait) {
  const std::string data = body(4 << 20);
  {
    memory_source inner(data);
    paced_source unpaced(inner, 0);
    auto [out, took] = drain(unpaced, 1 << 20);
    EXPECT_TRUE(out == data);
    EXPECT_LT(took, seconds(2));
  }
  // 1 MiB/s would take 3 s; hurried after the first read, it must not.
  memory_source inner(data);
  std::atomic<int> asked{0};
  paced_source hurried(inner, 1 << 20, [&] { return ++asked > 1; });
  auto [out, took] = drain(hurried, 1 << 20);
  EXPECT_TRUE(out == data);
  EXPECT_LT(took, milliseconds(1500));
  EXPECT_GE(asked.load(), 2);
}

}  // namespace
}  // namespace sluice
