#include "base/fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "base/crypto.h"

namespace sluice {

error errno_error(std::string context, int err) {
  return error(std::error_code(err, std::system_category()), context + ": " + std::strerror(err));
}

namespace fs {

file& file::operator=(file&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.release();
  }
  return *this;
}

file::~file() {
  if (fd_ >= 0) ::close(fd_);
}

result<file> file::open(const std::string& path, int flags, int mode) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  if (fd < 0) return fail(errno_error("open " + path, errno));
  return file(fd);
}

result<void> file::write_all(std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd_, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(errno_error("write", errno));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return ok();
}

result<size_t> file::pread(char* buf, size_t n, uint64_t offset) const {
  size_t done = 0;
  while (done < n) {
    ssize_t r = ::pread(fd_, buf + done, n - done, static_cast<off_t>(offset + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      return fail(errno_error("pread", errno));
    }
    if (r == 0) break;
    done += static_cast<size_t>(r);
  }
  return done;
}

result<size_t> file::read(char* buf, size_t n) {
  for (;;) {
    ssize_t r = ::read(fd_, buf, n);
    if (r >= 0) return static_cast<size_t>(r);
    if (errno != EINTR) return fail(errno_error("read", errno));
  }
}

result<void> file::sync() {
  if (::fdatasync(fd_) != 0) return fail(errno_error("fdatasync", errno));
  return ok();
}

result<uint64_t> file::size() const {
  struct stat st {};
  if (::fstat(fd_, &st) != 0) return fail(errno_error("fstat", errno));
  return static_cast<uint64_t>(st.st_size);
}

result<void> mkdirs(const std::string& path, int mode) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) return fail(error(ec, "mkdir " + path + ": " + ec.message()));
  (void)mode;
  return ok();
}

result<void> fsync_dir(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return fail(errno_error("open dir " + path, errno));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return fail(errno_error("fsync dir " + path, err));
  return ok();
}

result<void> rename(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) return fail(errno_error("rename " + from + " -> " + to, errno));
  return ok();
}

result<std::string> read_file(const std::string& path) {
  SLUICE_TRY(auto f, file::open(path, O_RDONLY));
  SLUICE_TRY(uint64_t sz, f.size());
  std::string out(sz, '\0');
  SLUICE_TRY(size_t n, f.pread(out.data(), sz, 0));
  out.resize(n);
  return out;
}

result<void> write_file_durable(const std::string& path, std::string_view data, int mode,
                                const std::function<result<void>()>& before_rename) {
  std::string tmp = path + ".tmp-" + random_token(8);
  {
    SLUICE_TRY(auto f, file::open(tmp, O_WRONLY | O_CREAT | O_TRUNC, mode));
    auto w = f.write_all(data);
    if (w) w = f.sync();
    if (w && before_rename) w = before_rename();
    if (!w) {
      ::unlink(tmp.c_str());
      return w;
    }
  }
  if (auto r = rename(tmp, path); !r) {
    ::unlink(tmp.c_str());
    return r;
  }
  return fsync_dir(parent_path(path));
}

result<void> remove(const std::string& path) {
  if (::remove(path.c_str()) != 0 && errno != ENOENT) return fail(errno_error("remove " + path, errno));
  return ok();
}

result<void> remove_all(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  if (ec) return fail(error(ec, "remove_all " + path + ": " + ec.message()));
  return ok();
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

bool is_dir(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

result<std::vector<dir_entry>> list_dir(const std::string& path) {
  std::vector<dir_entry> out;
  DIR* d = ::opendir(path.c_str());
  if (!d) {
    if (errno == ENOENT || errno == ENOTDIR) return out;
    return fail(errno_error("opendir " + path, errno));
  }
  while (struct dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    bool dir = e->d_type == DT_DIR;
    if (e->d_type == DT_UNKNOWN) dir = is_dir(join(path, name));
    out.push_back({std::string(name), dir});
  }
  ::closedir(d);
  return out;
}

std::string parent_path(const std::string& path) {
  auto pos = path.find_last_of('/');
  if (pos == std::string::npos) return ".";
  if (pos == 0) return "/";
  return path.substr(0, pos);
}

std::string join(std::string_view a, std::string_view b) {
  std::string out(a);
  if (!out.empty() && out.back() != '/') out.push_back('/');
  out.append(b);
  return out;
}

}  // namespace fs
}  // namespace sluice
