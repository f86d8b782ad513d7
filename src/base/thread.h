#pragma once
// Threads with names: `top -H`, `ps -L`, perf and gdb show them (Linux keeps
// at most 15 bytes of a name; longer names are cut).
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

namespace sluice {

void set_thread_name(std::string_view name);

// Starts a thread that names itself, then runs f.
template <class F>
std::thread named_thread(std::string name, F&& f) {
  return std::thread([name = std::move(name), f = std::forward<F>(f)]() mutable {
    set_thread_name(name);
    f();
  });
}

// Lowers the calling thread's CPU priority (nice 10) for background work —
// uploads, compaction, retention — so that on a busy machine the threads that
// acknowledge requests (WAL, network) are scheduled first. Threads it starts
// inherit it.
void lower_thread_priority();

// A helper thread for a pipeline that hands each step of a stream to another
// thread (hash one chunk while the next is received): one thread for the
// whole stream instead of one per step. One job at a time: start() a job,
// wait() for it, start the next.
class job_thread {
 public:
  explicit job_thread(std::string name);
  ~job_thread();  // waits for the job in progress, then ends the thread
  job_thread(const job_thread&) = delete;
  job_thread& operator=(const job_thread&) = delete;

  // Runs `job` on the thread. The previous job must have been waited for.
  void start(std::function<void()> job);
  // Returns once the last job started has finished (at once if none).
  void wait();

 private:
  void loop();

  std::mutex mu_;
  std::condition_variable cv_;
  std::function<void()> job_;
  bool busy_ = false;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace sluice
