// open_file_device: the WAL on a regular file or a raw block device.
#include <fcntl.h>
#include <linux/fs.h>
#include <spdlog/spdlog.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "base/aligned_buffer.h"
#include "base/fs.h"
#include "stream/types.h"
#include "stream/wal/wal.h"

namespace sluice::stream::wal {

namespace {

constexpr size_t kBlock = 4096;
constexpr size_t kFillChunk = 4 << 20;  // zero-fill write size at creation

error io(const std::string& what, int err) {
  return error(errc::io_error, errno_error(what, err).message());
}

class file_device final : public device {
 public:
  file_device(fs::file f, uint64_t size, size_t block, std::string path)
      : f_(std::move(f)), size_(size), block_(block), path_(std::move(path)) {}

  uint64_t size() const override { return size_; }
  size_t block_size() const override { return block_; }

  result<void> write(uint64_t pos, const char* buf, size_t len) override {
    while (len > 0) {
      ssize_t n = ::pwrite(f_.fd(), buf, len, static_cast<off_t>(pos));
      if (n < 0) {
        if (errno == EINTR) continue;
        return fail(io("write " + path_, errno));
      }
      if (n == 0) return fail(errc::io_error, "write " + path_ + ": no progress");
      buf += n;
      pos += static_cast<uint64_t>(n);
      len -= static_cast<size_t>(n);
    }
    return ok();
  }

  result<void> read(uint64_t pos, char* buf, size_t len) override {
    while (len > 0) {
      ssize_t n = ::pread(f_.fd(), buf, len, static_cast<off_t>(pos));
      if (n < 0) {
        if (errno == EINTR) continue;
        return fail(io("read " + path_, errno));
      }
      if (n == 0) return fail(errc::io_error, "read " + path_ + ": unexpected end of file");
      buf += n;
      pos += static_cast<uint64_t>(n);
      len -= static_cast<size_t>(n);
    }
    return ok();
  }

  result<void> flush() override {
    if (::fdatasync(f_.fd()) != 0) return fail(io("fdatasync " + path_, errno));
    return ok();
  }

 private:
  fs::file f_;
  uint64_t size_;
  size_t block_;
  std::string path_;
};

// Opens with O_DIRECT when asked and allowed; *direct says which it got.
result<fs::file> open_maybe_direct(const std::string& path, int flags, bool* direct) {
  if (*direct) {
    auto f = fs::file::open(path, flags | O_DIRECT, 0644);
    if (f) return f;
    if (f.error().code() != std::error_code(EINVAL, std::system_category())) return fail(f.error());
    static std::atomic<bool> logged{false};
    if (!logged.exchange(true)) {
      spdlog::warn("wal: {} refuses O_DIRECT; using buffered I/O + fdatasync", path);
    }
    *direct = false;
  }
  return fs::file::open(path, flags, 0644);
}

// Creates path complete: temp file, preallocated, zero-filled, synced, renamed.
result<void> create_file(const std::string& path, uint64_t size, bool direct) {
  std::string tmp = path + ".creating";
  (void)fs::remove(tmp);
  auto f = open_maybe_direct(tmp, O_RDWR | O_CREAT | O_TRUNC, &direct);
  if (!f) return fail(errc::io_error, f.error().message());
  if (int e = ::posix_fallocate(f.value().fd(), 0, static_cast<off_t>(size)); e != 0) {
    (void)fs::remove(tmp);
    return fail(io("fallocate " + tmp, e));
  }
  // fallocate leaves "unwritten" extents: the first write into each one
  // converts it, a metadata change that every fdatasync must then commit
  // through the journal. Writing zeros once makes every later WAL write a
  // pure data overwrite.
  aligned_buffer zeros(kFillChunk, kBlock);
  std::memset(zeros.data(), 0, kFillChunk);
  file_device dev(std::move(f.value()), size, kBlock, tmp);
  for (uint64_t pos = 0; pos < size; pos += kFillChunk) {
    auto r = dev.write(pos, zeros.data(), static_cast<size_t>(std::min<uint64_t>(kFillChunk, size - pos)));
    if (!r) {
      (void)fs::remove(tmp);
      return r;
    }
  }
  if (auto r = dev.flush(); !r) {
    (void)fs::remove(tmp);
    return r;
  }
  if (auto r = fs::rename(tmp, path); !r) return fail(errc::io_error, r.error().message());
  if (auto r = fs::fsync_dir(fs::parent_path(path)); !r) return fail(errc::io_error, r.error().message());
  return ok();
}

}  // namespace

result<std::unique_ptr<device>> open_file_device(const std::string& path, uint64_t capacity, bool direct) {
  struct stat st {};
  bool exists = ::stat(path.c_str(), &st) == 0;
  if (!exists && errno != ENOENT) return fail(io("stat " + path, errno));
  if (!exists) {
    uint64_t size = capacity / kBlock * kBlock;
    if (size < 4 * kBlock)
      return fail(errc::bad_argument, "wal capacity too small: " + std::to_string(capacity));
    SLUICE_TRY(create_file(path, size, direct));
  }
  auto f = open_maybe_direct(path, O_RDWR, &direct);
  if (!f) return fail(errc::io_error, f.error().message());
  if (::fstat(f.value().fd(), &st) != 0) return fail(io("fstat " + path, errno));
  uint64_t size = 0;
  size_t block = kBlock;
  if (S_ISBLK(st.st_mode)) {
    if (::ioctl(f.value().fd(), BLKGETSIZE64, &size) != 0) return fail(io("BLKGETSIZE64 " + path, errno));
    int logical = 0;
    if (::ioctl(f.value().fd(), BLKSSZGET, &logical) == 0 && logical > 0) {
      block = std::max(block, static_cast<size_t>(logical));
    }
  } else if (S_ISREG(st.st_mode)) {
    size = static_cast<uint64_t>(st.st_size);
    if (exists && size != capacity / kBlock * kBlock) {
      spdlog::info("wal: {} exists with {} bytes; using that size, not the configured {}", path, size,
                   capacity);
    }
  } else {
    return fail(errc::bad_argument, path + " is neither a regular file nor a block device");
  }
  size = size / block * block;
  if (size < 4 * block) return fail(errc::bad_argument, path + ": too small for a wal");
  return std::unique_ptr<device>(std::make_unique<file_device>(std::move(f.value()), size, block, path));
}

}  // namespace sluice::stream::wal
