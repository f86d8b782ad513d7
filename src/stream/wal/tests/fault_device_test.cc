#include "stream/wal/fault_device.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "stream/types.h"

namespace sluice::stream::wal {
namespace {

struct aligned {
  explicit aligned(size_t n, char fill) : p(static_cast<char*>(std::aligned_alloc(4096, n))) {
    std::memset(p, fill, n);
  }
  ~aligned() { std::free(p); }
  char* p;
};

TEST(FaultDisk, FlushMakesWritesDurable) {
  auto disk = std::make_shared<fault_disk>(64 << 10);
  auto dev = disk->open();
  aligned a(8192, 'a');
  ASSERT_TRUE(dev->write(4096, a.p, 8192));
  EXPECT_EQ(disk->current(4096, 8192), std::string(8192, 'a'));
  EXPECT_EQ(disk->durable(4096, 8192), std::string(8192, '\0'));
  ASSERT_TRUE(dev->flush());
  EXPECT_EQ(disk->durable(4096, 8192), std::string(8192, 'a'));
}

TEST(FaultDisk, CrashLosesUnflushedAndKillsOldDevices) {
  auto disk = std::make_shared<fault_disk>(64 << 10);
  auto dev = disk->open();
  aligned a(4096, 'a');
  ASSERT_TRUE(dev->write(0, a.p, 4096));
  disk->crash(fault_disk::crash_mode::lose_unflushed);
  EXPECT_EQ(disk->current(0, 4096), std::string(4096, '\0'));
  auto r = dev->write(0, a.p, 4096);
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(errc::io_error));
  auto dev2 = disk->open();
  EXPECT_TRUE(dev2->write(0, a.p, 4096));
}

TEST(FaultDisk, TornWriteKeepsPrefixThenDies) {
  auto disk = std::make_shared<fault_disk>(64 << 10);
  auto dev = disk->open();
  aligned a(16384, 'a');
  disk->tear_next_write(5000);
  EXPECT_FALSE(dev->write(0, a.p, 16384));
  EXPECT_FALSE(dev->flush());  // dead until the crash
  disk->crash(fault_disk::crash_mode::keep_unflushed);
  EXPECT_EQ(disk->durable(0, 5000), std::string(5000, 'a'));
  EXPECT_EQ(disk->durable(5000, 16384 - 5000), std::string(16384 - 5000, '\0'));
}

TEST(FaultDisk, InjectedFailures) {
  auto disk = std::make_shared<fault_disk>(64 << 10);
  auto dev = disk->open();
  aligned a(4096, 'a');
  disk->fail_writes(1, 1);
  EXPECT_TRUE(dev->write(0, a.p, 4096));
  EXPECT_FALSE(dev->write(4096, a.p, 4096));
  EXPECT_TRUE(dev->write(8192, a.p, 4096));
  disk->fail_flushes(1);
  EXPECT_FALSE(dev->flush());
  EXPECT_EQ(disk->durable(0, 4096), std::string(4096, '\0'));
  EXPECT_TRUE(dev->flush());
  EXPECT_EQ(disk->durable(0, 4096), std::string(4096, 'a'));
  EXPECT_EQ(disk->durable(4096, 4096), std::string(4096, '\0'));
}

TEST(FaultDisk, RandomBlocksCrashIsDeterministicPerSeed) {
  std::string first;
  for (int round = 0; round < 2; ++round) {
    auto disk = std::make_shared<fault_disk>(256 << 10);
    auto dev = disk->open();
    aligned a(128 << 10, 'z');
    ASSERT_TRUE(dev->write(0, a.p, 128 << 10));
    disk->crash(fault_disk::crash_mode::random_blocks, 42);
    std::string img = disk->durable(0, 128 << 10);
    if (round == 0)
      first = img;
    else
      EXPECT_EQ(img, first);
    size_t kept = std::count(img.begin(), img.end(), 'z');
    EXPECT_GT(kept, 0u);
    EXPECT_LT(kept, img.size());
  }
}

}  // namespace
}  // namespace sluice::stream::wal
