#include "objstore/internal/trash.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "base/crypto.h"

namespace sluice::objstore::detail {
namespace {

namespace fsys = std::filesystem;

class Trash : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fsys::temp_directory_path() / ("sluice-trash-" + random_token(8));
    fsys::create_directories(root_);
  }
  void TearDown() override { fsys::remove_all(root_); }

  fsys::path folder_with_file(const std::string& name) {
    auto d = root_ / name;
    fsys::create_directories(d / "sub");
    std::ofstream(d / "sub" / "part.1") << std::string(4096, 'x');
    return d;
  }

  fsys::path root_;
};

TEST_F(Trash, DiscardMovesAtOnceAndRemovesInTheBackground) {
  trash t((root_ / "trash").string());
  auto a = folder_with_file("a");
  auto b = root_ / "file";
  std::ofstream(b) << "bytes";
  t.discard(a.string());
  t.discard(b.string());
  EXPECT_FALSE(fsys::exists(a));  // gone from its place before discard() returns
  EXPECT_FALSE(fsys::exists(b));
  t.drain();
  EXPECT_EQ(t.pending(), 0u);
  EXPECT_TRUE(fsys::is_empty(root_ / "trash"));
}

TEST_F(Trash, MissingPathIsNotAnError) {
  trash t((root_ / "trash").string());
  t.discard((root_ / "never-existed").string());
  t.drain();
  EXPECT_TRUE(fsys::is_empty(root_ / "trash"));
}

TEST_F(Trash, WithoutItsFolderPathsAreRemovedAtOnce) {
  trash t((root_ / "trash").string());
  fsys::remove_all(root_ / "trash");  // an operator's rm -rf under a running server
  auto a = folder_with_file("a");
  t.discard(a.string());
  EXPECT_FALSE(fsys::exists(a));
}

TEST_F(Trash, LeftoversOfAnEarlierRunAreRemoved) {
  fsys::create_directories(root_ / "trash");
  fsys::rename(folder_with_file("old"), root_ / "trash" / "old");
  trash t((root_ / "trash").string());
  t.drain();
  EXPECT_TRUE(fsys::is_empty(root_ / "trash"));
}

// Whatever a stop leaves queued is in the trash folder, not back in place,
// and the next start removes it.
TEST_F(Trash, StopAndRestartLoseNothing) {
  {
    trash t((root_ / "trash").string());
    for (int i = 0; i < 50; ++i) t.discard(folder_with_file("f" + std::to_string(i)).string());
  }  // stops without waiting for the queue
  for (int i = 0; i < 50; ++i) EXPECT_FALSE(fsys::exists(root_ / ("f" + std::to_string(i))));
  trash again((root_ / "trash").string());
  again.drain();
  EXPECT_TRUE(fsys::is_empty(root_ / "trash"));
}

}  // namespace
}  // namespace sluice::objstore::detail
