#pragma once
// Thin POSIX file helpers with explicit durability. Errors carry errno
// (std::system_category) and the path.
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace sluice::fs {

// An owned file descriptor.
class file {
 public:
  file() = default;
  explicit file(int fd) : fd_(fd) {}
  file(file&& o) noexcept : fd_(o.release()) {}
  file& operator=(file&& o) noexcept;
  file(const file&) = delete;
  file& operator=(const file&) = delete;
  ~file();

  static result<file> open(const std::string& path, int flags, int mode = 0644);
  int fd() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() {
    int f = fd_;
    fd_ = -1;
    return f;
  }

  result<void> write_all(std::string_view data);
  // Reads up to n bytes at offset; fewer only at end of file.
  result<size_t> pread(char* buf, size_t n, uint64_t offset) const;
  result<size_t> read(char* buf, size_t n);
  result<void> sync();  // fdatasync
  result<uint64_t> size() const;

 private:
  int fd_ = -1;
};

result<void> mkdirs(const std::string& path, int mode = 0755);
// fsync of a directory, so that entries created/renamed in it are durable.
result<void> fsync_dir(const std::string& path);
// rename(2); both paths on one filesystem.
result<void> rename(const std::string& from, const std::string& to);
result<std::string> read_file(const std::string& path);
// Writes path atomically and durably: temp file, fsync, rename, fsync of the dir.
// before_rename (optional) runs after the temp file's fsync and must succeed
// for the rename to happen: what the new file refers to can be made durable
// meanwhile (its failure removes the temp file and is returned).
result<void> write_file_durable(const std::string& path, std::string_view data, int mode = 0644,
                                const std::function<result<void>()>& before_rename = {});
// Removes a file or an empty directory; missing is not an error.
result<void> remove(const std::string& path);
// rm -rf; missing is not an error.
result<void> remove_all(const std::string& path);
bool exists(const std::string& path);
bool is_dir(const std::string& path);
// Names in a directory, without "." and "..". Missing dir -> empty list.
struct dir_entry {
  std::string name;
  bool is_dir = false;
};
result<std::vector<dir_entry>> list_dir(const std::string& path);

std::string parent_path(const std::string& path);
std::string join(std::string_view a, std::string_view b);

}  // namespace sluice::fs
