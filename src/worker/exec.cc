#include "worker/exec.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "base/fs.h"
#include "worker/errc.h"
#include "worker/image_resize.h"

extern char** environ;

namespace sluice::worker {

namespace {

using clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Grace between SIGTERM and SIGKILL of a command's process group.
constexpr milliseconds kKillGrace{2'000};

std::string temp_dir(const std::string& configured) {
  if (!configured.empty()) return configured;
  const char* t = std::getenv("TMPDIR");
  return t && *t ? t : "/tmp";
}

// A temp file (mkstemp, close-on-exec, 0600) holding `data`; removed with the object.
class temp_file {
 public:
  static result<temp_file> make(const std::string& dir, std::string_view data) {
    std::string path = fs::join(dir, "sluice-exec-XXXXXX");
    int fd = ::mkostemp(path.data(), O_CLOEXEC);
    if (fd < 0) return fail(errno_error("creating a temp file in " + dir, errno));
    temp_file t(path);
    fs::file f(fd);
    SLUICE_TRY(f.write_all(data));
    return t;
  }
  temp_file(temp_file&& o) noexcept : path_(std::move(o.path_)) { o.path_.clear(); }
  temp_file& operator=(temp_file&&) = delete;
  ~temp_file() {
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  const std::string& path() const { return path_; }

 private:
  explicit temp_file(std::string p) : path_(std::move(p)) {}
  std::string path_;
};

void append_tail(std::string& tail, const char* data, size_t n, size_t keep) {
  tail.append(data, n);
  if (tail.size() > keep) tail.erase(0, tail.size() - keep);
}

std::string describe(const command_result& r) {
  std::string s;
  if (r.timed_out) {
    s = "timed out";
  } else if (r.signal) {
    s = fmt::format("killed by signal {} ({})", r.signal, strsignal(r.signal));
  } else {
    s = fmt::format("exit status {}", r.exit_status);
  }
  std::string out = r.output_tail;
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  if (!out.empty()) s += ": " + out;
  return s;
}

}  // namespace

result<command_result> run_command(const std::string& command, const std::string& stdin_path,
                                   const std::vector<std::pair<std::string, std::string>>& env,
                                   milliseconds timeout, size_t tail, const std::atomic<bool>& stop) {
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return fail(errno_error("pipe", errno));
  fs::file rd(pipefd[0]), wr(pipefd[1]);

  // The environment: ours, with the extra variables replacing same-named ones.
  std::vector<std::string> vars;
  for (char** e = environ; e && *e; ++e) {
    std::string_view v(*e);
    bool replaced = false;
    for (const auto& [k, _] : env)
      replaced = replaced || (v.starts_with(k) && v.size() > k.size() && v[k.size()] == '=');
    if (!replaced) vars.emplace_back(v);
  }
  for (const auto& [k, v] : env) vars.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& v : vars) envp.push_back(v.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, stdin_path.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
  posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Own process group (killed as a whole); signals as a fresh process has them:
  // the worker blocks SIGTERM/SIGINT for sigwait and ignores SIGPIPE.
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int s : {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGQUIT}) sigaddset(&defaults, s);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  pid_t pid = -1;
  char sh[] = "/bin/sh", dash_c[] = "-c";
  std::string cmd = command;
  char* argv[] = {sh, dash_c, cmd.data(), nullptr};
  int rc = ::posix_spawn(&pid, "/bin/sh", &fa, &attr, argv, envp.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return fail(errno_error("starting /bin/sh", rc));
  wr = fs::file();  // only the child writes

  command_result r;
  auto deadline = clock::now() + timeout;
  bool open = true, exited = false;
  int status = 0;
  char buf[4096];
  auto reap = [&](int flags) {
    if (exited) return true;
    pid_t w = ::waitpid(pid, &status, flags);
    if (w == pid) exited = true;
    return exited;
  };
  while (!exited) {
    if (stop || clock::now() >= deadline) {
      r.timed_out = !stop;
      r.stopped = static_cast<bool>(stop);
      ::kill(-pid, SIGTERM);
      auto grace = clock::now() + kKillGrace;
      while (!reap(WNOHANG) && clock::now() < grace) std::this_thread::sleep_for(milliseconds(20));
      if (!exited) {
        ::kill(-pid, SIGKILL);
        reap(0);
      }
      break;
    }
    if (open) {
      pollfd p{rd.fd(), POLLIN, 0};
      int n = ::poll(&p, 1, 50);
      if (n > 0) {
        ssize_t got = ::read(rd.fd(), buf, sizeof buf);
        if (got > 0) {
          append_tail(r.output_tail, buf, static_cast<size_t>(got), tail);
        } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
          open = false;
        }
      }
    } else {
      std::this_thread::sleep_for(milliseconds(20));
    }
    reap(WNOHANG);
  }
  // What the command wrote just before it exited (background children that
  // keep the pipe open are not waited for).
  if (open) {
    pollfd p{rd.fd(), POLLIN, 0};
    while (::poll(&p, 1, 0) > 0) {
      ssize_t got = ::read(rd.fd(), buf, sizeof buf);
      if (got <= 0) break;
      append_tail(r.output_tail, buf, static_cast<size_t>(got), tail);
    }
  }
  if (WIFEXITED(status)) r.exit_status = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
  return r;
}

exec_handler::exec_handler(exec_options opts, std::shared_ptr<s3client::client> s3)
    : opts_(std::move(opts)), s3_(std::move(s3)) {}

outcome exec_handler::handle(const message& m, int attempt, const std::atomic<bool>& stop) {
  return for_each_record(m, [&](const object_event& e) { return handle_record(m, e, attempt, stop); });
}

outcome exec_handler::handle_record(const message& m, const object_event& e, int attempt,
                                    const std::atomic<bool>& stop) {
  const std::string src = e.bucket + "/" + e.key;
  bool wanted = false;
  for (const auto& p : opts_.events) wanted = wanted || name_matches(p, e.name);
  if (!wanted) return outcome::skip(e.name + " is not a selected event", true);
  if (opts_.skip_marked && has_worker_mark(e.user_metadata))
    return outcome::skip(src + " was written by a worker");

  std::optional<temp_file> object;
  std::string size = e.size ? std::to_string(*e.size) : "";
  std::string dir = temp_dir(opts_.tmp_dir);
  if (opts_.download && creates_content(e.name) && !e.key.ends_with('/')) {
    auto head = s3_->head_object(e.bucket, e.key);
    if (!head) return s3_failure(head.error(), "HEAD " + src);
    if (opts_.skip_marked && has_worker_mark(head.value().metadata)) {
      return outcome::skip(src + " was written by a worker");
    }
    if (head.value().size > opts_.max_input_bytes) {
      return outcome::dead("too_large", fmt::format("{} is {} bytes, above the limit of {}", src,
                                                    head.value().size, opts_.max_input_bytes));
    }
    auto got = s3_->get_object(e.bucket, e.key);
    if (!got) {
      if (got.error().is(s3client::errc::response_too_large)) {
        return outcome::dead("too_large",
                             src + " is above the limit of " + std::to_string(opts_.max_input_bytes));
      }
      return s3_failure(got.error(), "GET " + src);
    }
    auto f = temp_file::make(dir, got.value().data);
    if (!f) return outcome::again(f.error().message());
    object.emplace(std::move(f).value());
    size = std::to_string(got.value().data.size());
  }
  auto input = temp_file::make(dir, m.value);
  if (!input) return outcome::again(input.error().message());

  std::vector<std::pair<std::string, std::string>> env = {
      {"SLUICE_OBJECT_PATH", object ? object->path() : ""},
      {"SLUICE_BUCKET", e.bucket},
      {"SLUICE_KEY", e.key},
      {"SLUICE_EVENT_NAME", e.name},
      {"SLUICE_ETAG", e.etag},
      {"SLUICE_VERSION_ID", e.version_id},
      {"SLUICE_OBJECT_SIZE", size},
      {"SLUICE_ATTEMPT", std::to_string(attempt)},
      {"SLUICE_KAFKA_TOPIC", m.topic},
      {"SLUICE_KAFKA_PARTITION", std::to_string(m.partition)},
      {"SLUICE_KAFKA_OFFSET", std::to_string(m.offset)},
  };
  auto run = run_command(opts_.command, input.value().path(), env, opts_.timeout, opts_.output_tail, stop);
  if (!run) return outcome::again(run.error().message());
  const command_result& r = run.value();
  if (r.stopped) return outcome::again("stopping: command killed");
  if (!r.timed_out && r.signal == 0 && r.exit_status == 0) {
    if (!r.output_tail.empty()) spdlog::debug("exec {}: output: {}", src, r.output_tail);
    return outcome::ok(src + ": command exited 0");
  }
  return outcome::failure(r.timed_out ? "command_timeout" : "command_failed", src + ": " + describe(r));
}

}  // namespace sluice::worker
