#include "base/shared_bytes.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

TEST(SharedBytes, TakesAStringOverWithoutCopyingIt) {
  std::string s(1000, 'x');
  const char* bytes = s.data();
  shared_bytes b(std::move(s));
  EXPECT_EQ(b.data(), bytes);
  EXPECT_EQ(b.size(), 1000u);
  EXPECT_EQ(b.owner_size(), 1000u);
}

TEST(SharedBytes, SlicesShareTheBufferAndKeepItAlive) {
  std::weak_ptr<const byte_owner> weak;
  shared_bytes slice;
  {
    shared_bytes whole(std::string("hello, world"));
    weak = whole.owner();
    slice = whole.substr(7, 5);
    EXPECT_EQ(slice.data(), whole.data() + 7);
  }
  EXPECT_FALSE(weak.expired());
  EXPECT_EQ(slice, "world");
  EXPECT_EQ(slice.owner_size(), 12u);
  slice = shared_bytes();
  EXPECT_TRUE(weak.expired());
}

TEST(SharedBytes, EmptyByDefault) {
  shared_bytes b;
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.owner_size(), 0u);
  EXPECT_EQ(b, "");
}

TEST(UniqueBytes, AreChangedInPlaceThenSharedWithoutACopy) {
  std::string s = "batch-0000-0000-0000";  // longer than the small-string buffer
  const char* bytes = s.data();
  unique_bytes u(std::move(s));
  EXPECT_EQ(u.data(), bytes);
  u.span()[6] = '7';
  shared_bytes b = std::move(u).share();
  EXPECT_EQ(b, "batch-7000-0000-0000");
  EXPECT_EQ(b.data(), bytes);
  EXPECT_TRUE(u.empty());  // NOLINT(bugprone-use-after-move): share() leaves it empty
}

}  // namespace
}  // namespace sluice
