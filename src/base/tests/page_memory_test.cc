#include "base/page_memory.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <new>

namespace sluice {
namespace {

bool all_zero(const char* p, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (p[i] != 0) return false;
  return true;
}

TEST(PageMemory, LargeBuffersStartOnAHugePageAndAreZeroed) {
  for (size_t n : {page_memory::kHugePage, 3 * page_memory::kHugePage + 12345}) {
    page_memory m(n);
    ASSERT_NE(m.data(), nullptr);
    EXPECT_EQ(m.size(), n);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(m.data()) % page_memory::kHugePage, 0u);
    EXPECT_TRUE(all_zero(m.data(), n));
    std::memset(m.data(), 0x5a, n);  // every byte is writable
    EXPECT_EQ(m.data()[n - 1], 0x5a);
  }
}

TEST(PageMemory, SmallBuffersArePageAligned) {
  page_memory m(100);
  EXPECT_EQ(m.size(), 100u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(m.data()) % 4096, 0u);
  m.data()[99] = 'x';
  EXPECT_EQ(m.data()[99], 'x');
}

TEST(PageMemory, MovesHandTheMappingOver) {
  page_memory a(page_memory::kHugePage);
  a.data()[0] = 'a';
  char* p = a.data();
  page_memory b(std::move(a));
  EXPECT_EQ(b.data(), p);
  EXPECT_EQ(a.data(), nullptr);  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(a.size(), 0u);       // NOLINT(bugprone-use-after-move)
  page_memory c(4096);
  c = std::move(b);
  EXPECT_EQ(c.data(), p);
  EXPECT_EQ(c.data()[0], 'a');
}

TEST(PageMemory, ZeroBytesIsAnError) {
  EXPECT_THROW(page_memory(0), std::bad_alloc);
}

}  // namespace
}  // namespace sluice
