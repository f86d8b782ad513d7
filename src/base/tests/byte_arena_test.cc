#include "base/byte_arena.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace sluice {
namespace {

TEST(ByteArena, RunsAreExactCopiesInOneChunk) {
  byte_arena arena;
  std::vector<shared_bytes> runs;
  for (int i = 0; i < 100; ++i) {
    std::string src(static_cast<size_t>(i * 37 + 1), static_cast<char>('a' + i % 26));
    runs.push_back(arena.copy(src).share());
    EXPECT_EQ(runs.back(), src);
  }
  for (const auto& r : runs) EXPECT_EQ(r.owner(), runs.front().owner());
  EXPECT_EQ(runs.front().owner_size(), byte_arena::kChunkBytes);
  for (int i = 0; i < 100; ++i) {  // nothing overwrote an earlier run
    EXPECT_EQ(runs[static_cast<size_t>(i)],
              std::string(static_cast<size_t>(i * 37 + 1), static_cast<char>('a' + i % 26)));
  }
}

TEST(ByteArena, ChangesToARunStayInsideIt) {
  byte_arena arena;
  auto a = arena.copy("aaaa");
  auto b = arena.copy("bbbb");
  auto c = arena.copy("cccc");
  for (auto& ch : b.span()) ch = 'X';
  EXPECT_EQ(a.view(), "aaaa");
  EXPECT_EQ(b.view(), "XXXX");
  EXPECT_EQ(c.view(), "cccc");
  auto shared = std::move(b).share();
  EXPECT_EQ(shared, "XXXX");
  EXPECT_TRUE(b.empty());  // NOLINT(bugprone-use-after-move): share() leaves it empty
}

TEST(ByteArena, LargeRunsGetTheirOwnBuffer) {
  byte_arena arena;
  std::string big(byte_arena::kMaxRunBytes + 1, 'z');
  auto run = arena.copy(big).share();
  EXPECT_EQ(run, big);
  EXPECT_EQ(run.owner_size(), big.size());
  EXPECT_EQ(arena.copy("").share(), "");
}

TEST(ByteArena, AFullChunkIsReplacedAndFreedChunksAreUsedAgain) {
  std::vector<shared_bytes> first;
  const void* first_chunk = nullptr;
  {
    byte_arena arena;
    std::string run(byte_arena::kMaxRunBytes, 'r');
    // Fill more than one chunk: the runs spill into a second.
    for (size_t i = 0; i < byte_arena::kChunkBytes / run.size() + 1; ++i)
      first.push_back(arena.copy(run).share());
    EXPECT_NE(first.front().owner(), first.back().owner());
    first_chunk = first.front().owner()->data();
  }
  const size_t pooled = byte_arena::pooled_chunks();
  std::erase_if(first, [&](const shared_bytes& b) { return b.owner()->data() == first_chunk; });
  EXPECT_EQ(byte_arena::pooled_chunks(), pooled + 1);  // the last run of the first chunk freed it
  // The pool hands the most recently freed chunk out first, pages mapped.
  byte_arena again;
  auto run = again.copy("reused").share();
  EXPECT_EQ(run.owner()->data(), first_chunk);
  EXPECT_EQ(run, "reused");
}

bool eventually(const std::function<bool()>& f) {
  for (int i = 0; i < 5000; ++i) {
    if (f()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return f();
}

TEST(ByteArena, KeepReadyRefillsThePoolAndItKeepsWhatTheCacheHolds) {
  const size_t ready = 3;
  const size_t keep = byte_arena::kPoolChunks + 6;
  std::jthread warm(
      [&](std::stop_token stop) { byte_arena::keep_ready(ready, keep * byte_arena::kChunkBytes, stop); });
  ASSERT_TRUE(eventually([&] { return byte_arena::pooled_chunks() >= ready; }));
  {
    // Take every pooled chunk and more: the warmer refills the pool while
    // they are held; once all are let go the pool keeps up to `keep` of
    // them, above its default bound.
    byte_arena arena;
    std::vector<shared_bytes> runs;
    const std::string run(byte_arena::kMaxRunBytes, 'x');
    for (size_t i = 0; i < (keep + ready) * (byte_arena::kChunkBytes / run.size()); ++i)
      runs.push_back(arena.copy(run).share());
    EXPECT_EQ(runs.back(), run);
    EXPECT_EQ(runs.front(), run);
    EXPECT_TRUE(eventually([&] { return byte_arena::pooled_chunks() >= ready; }));
  }
  EXPECT_GE(byte_arena::pooled_chunks(), keep);
  warm.request_stop();
  warm.join();  // returns when stopped
}

}  // namespace
}  // namespace sluice
