// Slot files: in-place replacement, torn writes, the older format, growth.
#include "objstore/internal/slot_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>

#include "base/crypto.h"
#include "base/fs.h"
#include "objstore/object_layer.h"

namespace sluice::objstore::detail {
namespace {

namespace stdfs = std::filesystem;

class SlotFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = stdfs::temp_directory_path() / ("sluice-slot-file-" + random_token(8));
    stdfs::create_directories(dir_);
    path_ = (dir_ / "f").string();
  }
  void TearDown() override { stdfs::remove_all(dir_); }

  std::string raw() { return fs::read_file(path_).value(); }
  void put_raw(const std::string& bytes) { ASSERT_TRUE(fs::write_file_durable(path_, bytes)); }
  std::string read() {
    auto r = read_slot_file(path_);
    EXPECT_TRUE(r) << r.error().message();
    return r ? r.value() : std::string();
  }

  stdfs::path dir_;
  std::string path_;
};

TEST_F(SlotFile, NewFileThenReplacementsAlternateSlotsInPlace) {
  auto w = write_slot_file(path_, "first");
  ASSERT_TRUE(w);
  EXPECT_EQ(w.value(), slot_write::new_file);
  EXPECT_EQ(read(), "first");
  EXPECT_EQ(raw().size(), kSlotHeaderBytes + 5);  // slot 0 only

  struct stat before {};
  ASSERT_EQ(::stat(path_.c_str(), &before), 0);
  for (int i = 0; i < 5; ++i) {
    const std::string v = "value " + std::to_string(i);
    auto r = write_slot_file(path_, v);
    ASSERT_TRUE(r);
    EXPECT_EQ(r.value(), slot_write::in_place);
    EXPECT_EQ(read(), v);
    auto s = newest_slot(raw());
    ASSERT_TRUE(s);
    EXPECT_EQ(s->index, i % 2 == 0 ? 1 : 0);
    EXPECT_EQ(s->generation, static_cast<uint64_t>(i + 2));
  }
  struct stat after {};
  ASSERT_EQ(::stat(path_.c_str(), &after), 0);
  EXPECT_EQ(before.st_ino, after.st_ino);  // the same file, written in place
  EXPECT_EQ(static_cast<size_t>(after.st_size), kSlotAlign + kSlotHeaderBytes + 7);
}

TEST_F(SlotFile, ATornWriteLeavesThePreviousContents) {
  ASSERT_TRUE(write_slot_file(path_, "old contents"));
  ASSERT_TRUE(write_slot_file(path_, "acknowledged"));  // slot 1
  // A crash mid-way through the next replacement (slot 0): half of it landed.
  std::string bytes = raw();
  const std::string next = encode_slot("never acknowledged, longer", 3, kSlotAlign);
  bytes.replace(0, next.size() / 2, next.substr(0, next.size() / 2));
  put_raw(bytes);
  EXPECT_EQ(read(), "acknowledged");
  // The next write goes to the torn slot again, not over the good one.
  ASSERT_TRUE(write_slot_file(path_, "after the crash"));
  EXPECT_EQ(read(), "after the crash");
  auto s = newest_slot(raw());
  ASSERT_TRUE(s);
  EXPECT_EQ(s->index, 0);
}

TEST_F(SlotFile, ATornSlotZeroHeaderStillFindsSlotOne) {
  ASSERT_TRUE(write_slot_file(path_, "zero"));
  ASSERT_TRUE(write_slot_file(path_, "one"));  // slot 1, the newest
  std::string bytes = raw();
  for (size_t i = 0; i < kSlotHeaderBytes; ++i) bytes[i] = static_cast<char>(0xA5);  // capacity lost too
  bytes.replace(0, 8, std::string("SLSLOT\0\1", 8));
  put_raw(bytes);
  EXPECT_EQ(read(), "one");
}

TEST_F(SlotFile, FlippedPayloadBitIsCaught) {
  ASSERT_TRUE(write_slot_file(path_, "good"));
  ASSERT_TRUE(write_slot_file(path_, "better"));
  std::string bytes = raw();
  bytes[kSlotAlign + kSlotHeaderBytes] ^= 1;  // slot 1's payload
  put_raw(bytes);
  EXPECT_EQ(read(), "good");
  bytes[kSlotHeaderBytes] ^= 1;  // and slot 0's
  put_raw(bytes);
  auto r = read_slot_file(path_);
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(errc::corrupt)) << r.error().message();
  // A writer replaces an unreadable file with a new one.
  auto w = write_slot_file(path_, "fresh");
  ASSERT_TRUE(w);
  EXPECT_EQ(w.value(), slot_write::new_file);
  EXPECT_EQ(read(), "fresh");
}

TEST_F(SlotFile, OlderFormatIsReadAsIsAndReplacedByASlotFile) {
  put_raw("SLMETA\0\1 older bytes");
  EXPECT_EQ(read(), std::string("SLMETA\0\1 older bytes"));
  auto w = write_slot_file(path_, "new");
  ASSERT_TRUE(w);
  EXPECT_EQ(w.value(), slot_write::new_file);
  EXPECT_TRUE(is_slot_file(raw()));
  EXPECT_EQ(read(), "new");
}

TEST_F(SlotFile, APayloadThatOutgrowsItsSlotGetsANewFile) {
  ASSERT_TRUE(write_slot_file(path_, std::string(100, 'a')));
  ASSERT_TRUE(write_slot_file(path_, std::string(kSlotAlign - kSlotHeaderBytes, 'b')));  // fits exactly
  auto w = write_slot_file(path_, std::string(kSlotAlign, 'c'));
  ASSERT_TRUE(w);
  EXPECT_EQ(w.value(), slot_write::new_file);
  EXPECT_EQ(read(), std::string(kSlotAlign, 'c'));
  auto s = newest_slot(raw());
  ASSERT_TRUE(s);
  EXPECT_EQ(s->capacity, 2 * kSlotAlign);
  EXPECT_EQ(s->generation, 3u);
  // Smaller payloads fit the larger slots in place.
  w = write_slot_file(path_, "small");
  ASSERT_TRUE(w);
  EXPECT_EQ(w.value(), slot_write::in_place);
  EXPECT_EQ(read(), "small");
}

TEST_F(SlotFile, BeforeRunsFirstAndItsFailureChangesNothing) {
  ASSERT_TRUE(write_slot_file(path_, "kept"));
  auto w = write_slot_file(path_, "dropped", 0644,
                           [] { return result<void>(fail(error(errc::io_error, "flush"))); });
  ASSERT_FALSE(w);
  EXPECT_EQ(read(), "kept");
  bool ran = false;
  ASSERT_TRUE(write_slot_file(path_, "landed", 0644, [&]() -> result<void> {
    ran = true;
    return ok();
  }));
  EXPECT_TRUE(ran);
  EXPECT_EQ(read(), "landed");
}

TEST_F(SlotFile, GarbageNeverReadsAsContents) {
  for (std::string bytes :
       {std::string("SLSLOT\0\1", 8), std::string("SLSLOT\0\1", 8) + std::string(100, '\0'),
        std::string("SLSLOT\0\1", 8) + std::string(5000, '\xff')}) {
    EXPECT_FALSE(newest_slot(bytes));
  }
  EXPECT_FALSE(newest_slot("not a slot file"));
}

}  // namespace
}  // namespace sluice::objstore::detail
