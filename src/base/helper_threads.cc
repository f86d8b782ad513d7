#include "base/helper_threads.h"

#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <thread>
#include <vector>

#include "base/thread.h"

namespace sluice {

struct helper_task::state {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
};

namespace {

// The calling thread's scheduling: policy and nice value. Linux keeps them per
// thread, and a new thread starts with its creator's. A helper only runs tasks
// of callers with the scheduling it was started with, so a task runs as its
// caller would (a background uploader's work stays in the background, a
// request's does not end up there).
struct sched_class {
  int policy = SCHED_OTHER;
  int nice = 0;
  friend bool operator==(const sched_class&, const sched_class&) = default;
};

sched_class current_sched() {
  sched_class c;
  c.policy = ::sched_getscheduler(0);
  errno = 0;
  int n = ::getpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)));
  if (errno == 0) c.nice = n;
  return c;
}

// One parked helper: waits for a task handed to it, or for its idle timeout.
struct parked {
  sched_class sched;  // its creator's, for life
  std::mutex mu;
  std::condition_variable cv;
  std::function<void()> task;
  std::string name;
  std::shared_ptr<helper_task::state> st;
};

class helper_pool {
 public:
  static helper_pool& instance() {
    static auto* pool = new helper_pool;  // never destroyed: parked helpers may outlive static destructors
    return *pool;
  }

  void run(std::string name, std::function<void()> task, std::shared_ptr<helper_task::state> st) {
    const sched_class sched = current_sched();
    std::shared_ptr<parked> p;
    {
      std::lock_guard lk(mu_);
      for (auto it = idle_.rbegin(); it != idle_.rend(); ++it) {  // the most recently parked first
        if ((*it)->sched == sched) {
          p = std::move(*it);
          idle_.erase(std::next(it).base());
          break;
        }
      }
    }
    const bool start = !p;
    if (start) {
      p = std::make_shared<parked>();
      p->sched = sched;  // the new thread inherits the caller's scheduling
    }
    {
      std::lock_guard lk(p->mu);
      p->task = std::move(task);
      p->name = std::move(name);
      p->st = std::move(st);
    }
    if (start) {
      std::thread([this, p] { loop(p); }).detach();
    } else {
      p->cv.notify_one();
    }
  }

  size_t idle() {
    std::lock_guard lk(mu_);
    return idle_.size();
  }

 private:
  void loop(const std::shared_ptr<parked>& p) {
    std::unique_lock lk(p->mu);
    for (;;) {
      std::function<void()> task = std::move(p->task);
      std::shared_ptr<helper_task::state> st = std::move(p->st);
      p->task = nullptr;
      set_thread_name(p->name);
      lk.unlock();
      task();
      task = nullptr;  // its captures go before the caller learns it is done
      {
        std::lock_guard sl(st->mu);
        st->done = true;
      }
      st->cv.notify_all();
      st.reset();
      {
        std::lock_guard pl(mu_);
        if (idle_.size() >= kKeepIdleHelpers) return;
        idle_.push_back(p);
      }
      lk.lock();
      if (!p->cv.wait_for(lk, kHelperIdleTimeout, [&] { return p->task != nullptr; })) {
        // Timed out: leave the idle list unless a caller took this helper
        // meanwhile (then its task is about to arrive).
        std::lock_guard pl(mu_);
        for (auto it = idle_.begin(); it != idle_.end(); ++it) {
          if (it->get() == p.get()) {
            idle_.erase(it);
            return;
          }
        }
        p->cv.wait(lk, [&] { return p->task != nullptr; });
      }
    }
  }

  std::mutex mu_;
  std::vector<std::shared_ptr<parked>> idle_;
};

}  // namespace

helper_task& helper_task::operator=(helper_task&& o) noexcept {
  if (this != &o) {
    join();
    state_ = std::move(o.state_);
  }
  return *this;
}

void helper_task::join() {
  if (!state_) return;
  {
    std::unique_lock lk(state_->mu);
    state_->cv.wait(lk, [&] { return state_->done; });
  }
  state_.reset();
}

helper_task run_helper(std::string name, std::function<void()> task) {
  auto st = std::make_shared<helper_task::state>();
  helper_pool::instance().run(std::move(name), std::move(task), st);
  return helper_task(std::move(st));
}

size_t idle_helpers() {
  return helper_pool::instance().idle();
}

}  // namespace sluice
