#include "base/thread.h"

#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <stdexcept>
#include <string>

namespace sluice {

void set_thread_name(std::string_view name) {
  std::string n(name.substr(0, 15));
  (void)pthread_setname_np(pthread_self(), n.c_str());
}

void lower_thread_priority() {
  // On Linux the nice value is per thread: PRIO_PROCESS with a thread id.
  (void)::setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), 10);
}

job_thread::job_thread(std::string name) {
  thread_ = named_thread(std::move(name), [this] { loop(); });
}

job_thread::~job_thread() {
  {
    std::unique_lock lk(mu_);
    cv_.wait(lk, [&] { return !busy_; });
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void job_thread::start(std::function<void()> job) {
  {
    std::lock_guard lk(mu_);
    if (busy_) throw std::logic_error("job_thread: start() before the previous job was waited for");
    job_ = std::move(job);
    busy_ = true;
  }
  cv_.notify_all();
}

void job_thread::wait() {
  std::unique_lock lk(mu_);
  cv_.wait(lk, [&] { return !busy_; });
}

void job_thread::loop() {
  std::unique_lock lk(mu_);
  for (;;) {
    cv_.wait(lk, [&] { return stop_ || busy_; });
    if (busy_) {
      auto job = std::move(job_);
      lk.unlock();
      job();  // jobs report their results through what they capture
      job = nullptr;
      lk.lock();
      busy_ = false;
      cv_.notify_all();
      continue;
    }
    return;  // stop_ and nothing to run
  }
}

}  // namespace sluice
