#pragma once
// An in-memory disk for crash and failure tests of the WAL and of code above
// it. It keeps two images: `volatile` (what reads see: every completed write)
// and `durable` (what survives a crash: the volatile image as of the last
// successful flush). crash() throws away the volatile image, optionally
// letting some unflushed writes through whole, torn or out of order, as a
// real disk cache may.
//
// Usage:
//   auto disk = std::make_shared<fault_disk>(1 << 20);
//   auto log = wal::open(disk->open(), opts, visit);   // a device on the disk
//   disk->tear_next_write(5000);    // the next write keeps 5000 bytes, then the disk dies
//   ...
//   log->close(); log.reset();
//   disk->crash(fault_disk::crash_mode::keep_unflushed);
//   auto log2 = wal::open(disk->open(), opts, visit);   // recovery
//
// Thread-safe. Devices from open() share the disk; after crash() the devices
// opened before it fail every call with errc::io_error (their process is
// "dead"), so a log still running on one cannot touch the new image.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>

#include "stream/wal/wal.h"

namespace sluice::stream::wal {

class fault_disk : public std::enable_shared_from_this<fault_disk> {
 public:
  explicit fault_disk(uint64_t size, size_t block_size = 4096);

  std::unique_ptr<device> open();

  // The next n writes, after `after` more succeed, fail with io_error and
  // change nothing.
  void fail_writes(int n, int after = 0);
  // The next n flushes, after `after` more succeed, fail with io_error and
  // make nothing durable.
  void fail_flushes(int n, int after = 0);
  // The write after the next `after` ones applies only its first keep_bytes
  // bytes (any count: a block boundary, or mid-block to tear a block) to the
  // volatile image, fails, and the disk dies: every later call fails until
  // crash(). Pair with crash(keep_unflushed) to model "the machine lost power
  // in the middle of this write".
  void tear_next_write(size_t keep_bytes, int after = 0);
  // Every write sleeps this long first (to let groups form in tests).
  void set_write_delay(std::chrono::microseconds d);
  // While paused, write() blocks (the caller's thread waits) until resume().
  void pause_writes();
  void resume_writes();
  // Number of write() calls currently blocked by pause_writes().
  int paused_writers() const;

  enum class crash_mode {
    lose_unflushed,  // nothing written since the last flush survives
    keep_unflushed,  // everything written survives (as if flushed at the crash)
    random_blocks,   // each block written since the last flush independently survives whole, not at all,
                     // or as a prefix of 512-byte sectors
  };
  // Power loss: the durable image becomes what survives per `mode`, the
  // volatile image is reset to it, and devices opened before are dead.
  void crash(crash_mode mode, uint64_t seed = 0);

  // Flips every byte of [pos, pos + len) in both images (media corruption).
  void corrupt(uint64_t pos, size_t len);
  // Copies out of the durable / volatile image.
  std::string durable(uint64_t pos, size_t len) const;
  std::string current(uint64_t pos, size_t len) const;

  uint64_t size() const { return size_; }
  size_t block_size() const { return block_; }
  uint64_t writes() const;
  uint64_t flushes() const;
  uint64_t bytes_written() const;

 private:
  friend class fault_device;
  result<void> write(uint64_t gen, uint64_t pos, const char* buf, size_t len);
  result<void> read(uint64_t gen, uint64_t pos, char* buf, size_t len);
  result<void> flush(uint64_t gen);
  result<void> check_alive(uint64_t gen) const;  // under mu_

  const uint64_t size_;
  const size_t block_;
  mutable std::mutex mu_;
  std::condition_variable resumed_;
  std::string volatile_;
  std::string durable_;
  std::set<uint64_t> dirty_;  // blocks written since the last flush
  uint64_t gen_ = 0;          // bumped by crash()
  bool dead_ = false;
  bool paused_ = false;
  int paused_writers_ = 0;
  int fail_writes_ = 0, fail_writes_after_ = 0;
  int fail_flushes_ = 0, fail_flushes_after_ = 0;
  bool tear_ = false;
  size_t tear_keep_ = 0;
  int tear_after_ = 0;
  std::chrono::microseconds write_delay_{0};
  uint64_t writes_ = 0, flushes_ = 0, bytes_written_ = 0;
};

}  // namespace sluice::stream::wal
