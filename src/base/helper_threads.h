#pragma once
// Short helper tasks on reused threads. A task never waits in a queue: it
// runs on an idle helper thread when one is parked, else on a new thread, so a
// task that blocks (on its caller, on I/O) can delay no other task. A task
// runs with its caller's scheduling (policy and nice value, e.g. after
// lower_thread_priority()): helpers are reused only for callers scheduled as
// the thread that started them. Tasks must not change their thread's
// scheduling. Finished
// helpers park for the next task (at most kKeepIdle of them, each for at most
// kIdleTimeout), which saves the thread start that a request paying for two
// helpers (the PUT path's writer and hasher) would otherwise pay every time:
// on the VM of docs/BENCHMARKS.md, a thread start and join costs tens to
// hundreds of microseconds (its stack faults in page by page).
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

namespace sluice {

class helper_task {
 public:
  helper_task() = default;  // none
  helper_task(helper_task&&) noexcept = default;
  helper_task& operator=(helper_task&& o) noexcept;
  helper_task(const helper_task&) = delete;
  helper_task& operator=(const helper_task&) = delete;
  ~helper_task() { join(); }  // a task never outlives its handle

  bool joinable() const { return state_ != nullptr; }
  // Waits until the task has returned. Idempotent.
  void join();

  struct state;  // shared with the helper thread that runs the task

 private:
  friend helper_task run_helper(std::string name, std::function<void()> task);
  explicit helper_task(std::shared_ptr<state> s) : state_(std::move(s)) {}
  std::shared_ptr<state> state_;
};

// Runs task on a helper thread named `name` (at most 15 bytes are kept).
// Exceptions escaping task terminate the process, as on a std::thread.
helper_task run_helper(std::string name, std::function<void()> task);

// Helper threads parked right now (for tests).
size_t idle_helpers();

inline constexpr size_t kKeepIdleHelpers = 16;
inline constexpr std::chrono::seconds kHelperIdleTimeout{30};

}  // namespace sluice
