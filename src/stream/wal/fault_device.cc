#include "stream/wal/fault_device.h"

#include <algorithm>
#include <cstring>
#include <thread>

#include "stream/types.h"

namespace sluice::stream::wal {

class fault_device final : public device {
 public:
  fault_device(std::shared_ptr<fault_disk> disk, uint64_t gen) : disk_(std::move(disk)), gen_(gen) {}
  uint64_t size() const override { return disk_->size_; }
  size_t block_size() const override { return disk_->block_; }
  result<void> write(uint64_t pos, const char* buf, size_t len) override {
    return disk_->write(gen_, pos, buf, len);
  }
  result<void> read(uint64_t pos, char* buf, size_t len) override { return disk_->read(gen_, pos, buf, len); }
  result<void> flush() override { return disk_->flush(gen_); }

 private:
  std::shared_ptr<fault_disk> disk_;
  uint64_t gen_;
};

fault_disk::fault_disk(uint64_t size, size_t block_size)
    : size_(size / block_size * block_size),
      block_(block_size),
      volatile_(size_, '\0'),
      durable_(size_, '\0') {}

std::unique_ptr<device> fault_disk::open() {
  std::lock_guard lk(mu_);
  return std::make_unique<fault_device>(shared_from_this(), gen_);
}

void fault_disk::fail_writes(int n, int after) {
  std::lock_guard lk(mu_);
  fail_writes_ = n;
  fail_writes_after_ = after;
}

void fault_disk::fail_flushes(int n, int after) {
  std::lock_guard lk(mu_);
  fail_flushes_ = n;
  fail_flushes_after_ = after;
}

void fault_disk::tear_next_write(size_t keep_bytes, int after) {
  std::lock_guard lk(mu_);
  tear_ = true;
  tear_keep_ = keep_bytes;
  tear_after_ = after;
}

void fault_disk::set_write_delay(std::chrono::microseconds d) {
  std::lock_guard lk(mu_);
  write_delay_ = d;
}

void fault_disk::pause_writes() {
  std::lock_guard lk(mu_);
  paused_ = true;
}

void fault_disk::resume_writes() {
  std::lock_guard lk(mu_);
  paused_ = false;
  resumed_.notify_all();
}

int fault_disk::paused_writers() const {
  std::lock_guard lk(mu_);
  return paused_writers_;
}

result<void> fault_disk::check_alive(uint64_t gen) const {
  if (gen != gen_) return fail(errc::io_error, "fault_disk: device lost in a crash");
  if (dead_) return fail(errc::io_error, "fault_disk: disk died after a torn write");
  return ok();
}

result<void> fault_disk::write(uint64_t gen, uint64_t pos, const char* buf, size_t len) {
  std::unique_lock lk(mu_);
  if (write_delay_.count() > 0) {
    auto d = write_delay_;
    lk.unlock();
    std::this_thread::sleep_for(d);
    lk.lock();
  }
  if (paused_) {
    ++paused_writers_;
    resumed_.wait(lk, [&] { return !paused_; });
    --paused_writers_;
  }
  SLUICE_TRY(check_alive(gen));
  if (pos % block_ != 0 || len % block_ != 0 || pos + len > size_ || pos + len < pos) {
    throw std::logic_error("fault_disk: unaligned or out-of-range write");
  }
  ++writes_;
  if (fail_writes_ > 0) {
    if (fail_writes_after_ > 0) {
      --fail_writes_after_;
    } else {
      --fail_writes_;
      return fail(errc::io_error, "fault_disk: injected write failure");
    }
  }
  size_t keep = len;
  bool tear = false;
  if (tear_) {
    if (tear_after_ > 0) {
      --tear_after_;
    } else {
      tear_ = false;
      tear = true;
      keep = std::min(len, tear_keep_);
    }
  }
  std::memcpy(volatile_.data() + pos, buf, keep);
  for (uint64_t b = pos / block_; b * block_ < pos + keep; ++b) dirty_.insert(b);
  bytes_written_ += keep;
  if (tear) {
    dead_ = true;
    return fail(errc::io_error, "fault_disk: torn write");
  }
  return ok();
}

result<void> fault_disk::read(uint64_t gen, uint64_t pos, char* buf, size_t len) {
  std::lock_guard lk(mu_);
  SLUICE_TRY(check_alive(gen));
  if (pos % block_ != 0 || len % block_ != 0 || pos + len > size_ || pos + len < pos) {
    throw std::logic_error("fault_disk: unaligned or out-of-range read");
  }
  std::memcpy(buf, volatile_.data() + pos, len);
  return ok();
}

result<void> fault_disk::flush(uint64_t gen) {
  std::lock_guard lk(mu_);
  SLUICE_TRY(check_alive(gen));
  ++flushes_;
  if (fail_flushes_ > 0) {
    if (fail_flushes_after_ > 0) {
      --fail_flushes_after_;
    } else {
      --fail_flushes_;
      return fail(errc::io_error, "fault_disk: injected flush failure");
    }
  }
  for (uint64_t b : dirty_) std::memcpy(durable_.data() + b * block_, volatile_.data() + b * block_, block_);
  dirty_.clear();
  return ok();
}

void fault_disk::crash(crash_mode mode, uint64_t seed) {
  std::lock_guard lk(mu_);
  std::mt19937_64 rng(seed);
  constexpr size_t kSector = 512;
  for (uint64_t b : dirty_) {
    char* dst = durable_.data() + b * block_;
    const char* src = volatile_.data() + b * block_;
    switch (mode) {
      case crash_mode::lose_unflushed:
        break;
      case crash_mode::keep_unflushed:
        std::memcpy(dst, src, block_);
        break;
      case crash_mode::random_blocks: {
        size_t sectors = std::max<size_t>(1, block_ / kSector);
        switch (rng() % 3) {
          case 0:
            break;
          case 1:
            std::memcpy(dst, src, block_);
            break;
          default:
            std::memcpy(dst, src, std::min(block_, (rng() % sectors) * kSector));
            break;
        }
        break;
      }
    }
  }
  dirty_.clear();
  volatile_ = durable_;
  ++gen_;
  dead_ = false;
  tear_ = false;
  fail_writes_ = fail_flushes_ = 0;
  paused_ = false;
  resumed_.notify_all();
}

void fault_disk::corrupt(uint64_t pos, size_t len) {
  std::lock_guard lk(mu_);
  for (size_t i = 0; i < len && pos + i < size_; ++i) {
    volatile_[pos + i] = static_cast<char>(~volatile_[pos + i]);
    durable_[pos + i] = static_cast<char>(~durable_[pos + i]);
  }
}

std::string fault_disk::durable(uint64_t pos, size_t len) const {
  std::lock_guard lk(mu_);
  return durable_.substr(pos, len);
}

std::string fault_disk::current(uint64_t pos, size_t len) const {
  std::lock_guard lk(mu_);
  return volatile_.substr(pos, len);
}

uint64_t fault_disk::writes() const {
  std::lock_guard lk(mu_);
  return writes_;
}

uint64_t fault_disk::flushes() const {
  std::lock_guard lk(mu_);
  return flushes_;
}

uint64_t fault_disk::bytes_written() const {
  std::lock_guard lk(mu_);
  return bytes_written_;
}

}  // namespace sluice::stream::wal
