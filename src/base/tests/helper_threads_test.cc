#include "base/helper_threads.h"

#include <gtest/gtest.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/thread.h"

namespace sluice {
namespace {

using namespace std::chrono_literals;

// Waits up to 5 s for pred.
template <class Pred>
bool eventually(Pred pred) {
  for (auto until = std::chrono::steady_clock::now() + 5s; std::chrono::steady_clock::now() < until;) {
    if (pred()) return true;
    std::this_thread::sleep_for(1ms);
  }
  return pred();
}

TEST(HelperThreads, JoinWaitsForTheTask) {
  std::atomic<bool> done{false};
  helper_task t = run_helper("test-join", [&] {
    std::this_thread::sleep_for(50ms);
    done = true;
  });
  EXPECT_TRUE(t.joinable());
  t.join();
  EXPECT_TRUE(done);
  EXPECT_FALSE(t.joinable());
  t.join();  // idempotent
}

TEST(HelperThreads, TheHandleJoinsWhenItGoes) {
  std::atomic<bool> done{false};
  {
    helper_task t = run_helper("test-dtor", [&] {
      std::this_thread::sleep_for(30ms);
      done = true;
    });
  }
  EXPECT_TRUE(done);
}

TEST(HelperThreads, TheTaskRunsUnderItsName) {
  auto name_seen_by = [](std::string name) {
    std::string seen;
    run_helper(std::move(name), [&] {
      char buf[16] = {};
      pthread_getname_np(pthread_self(), buf, sizeof buf);
      seen = buf;
    }).join();
    return seen;
  };
  EXPECT_EQ(name_seen_by("put-hash"), "put-hash");
  EXPECT_EQ(name_seen_by("a-name-longer-than-fifteen"), "a-name-longer-t");
}

TEST(HelperThreads, AFinishedHelperRunsTheNextTask) {
  std::thread::id first, second;
  const size_t parked = std::max<size_t>(idle_helpers(), 1);
  run_helper("test-reuse", [&] { first = std::this_thread::get_id(); }).join();
  // The helper parks itself (last in, first out) just after it reported the task done.
  ASSERT_TRUE(eventually([&] { return idle_helpers() >= parked; }));
  run_helper("test-reuse", [&] { second = std::this_thread::get_id(); }).join();
  EXPECT_NE(first, std::this_thread::get_id());
  EXPECT_EQ(first, second);
}

int own_nice() {
  errno = 0;
  return ::getpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)));
}

// A task runs with its caller's nice value: a helper that ran a background
// (lowered) caller's task is not reused for a normal caller, and the other
// way round.
TEST(HelperThreads, TasksRunWithTheirCallersNiceValue) {
  auto nice_in_task = [] {
    int n = -100;
    run_helper("test-nice", [&] { n = own_nice(); }).join();
    return n;
  };
  const int normal = own_nice();
  EXPECT_EQ(nice_in_task(), normal);
  for (int round = 0; round < 3; ++round) {
    int lowered = -100, expected = -100;
    std::thread([&] {
      lower_thread_priority();
      expected = own_nice();
      lowered = nice_in_task();
    }).join();
    EXPECT_EQ(lowered, expected);
    EXPECT_EQ(nice_in_task(), normal) << "a normal caller's task ran on a lowered helper";
  }
  if (normal == 10) GTEST_SKIP() << "the test runs at nice 10 already: lowered and normal look the same";
}

// Tasks never wait for each other: 40 tasks that each block until all 40 run
// (more than the helpers kept parked) all finish.
TEST(HelperThreads, BlockingTasksNeverQueueBehindEachOther) {
  constexpr int kTasks = 40;
  std::mutex mu;
  std::condition_variable cv;
  int started = 0;
  std::atomic<int> met{0};
  std::vector<helper_task> tasks;
  for (int i = 0; i < kTasks; ++i) {
    tasks.push_back(run_helper("test-block", [&] {
      std::unique_lock lk(mu);
      ++started;
      cv.notify_all();
      if (cv.wait_for(lk, 10s, [&] { return started == kTasks; })) ++met;
    }));
  }
  for (auto& t : tasks) t.join();
  EXPECT_EQ(met, kTasks);
  // At most kKeepIdleHelpers of them stay parked.
  ASSERT_TRUE(eventually([] { return idle_helpers() > 0; }));
  EXPECT_LE(idle_helpers(), kKeepIdleHelpers);
}

TEST(HelperThreads, ConcurrentCallersEachGetTheirTaskRunOnce) {
  constexpr int kCallers = 4, kEach = 200;
  std::atomic<int> runs{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < kCallers; ++c) {
    callers.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) run_helper("test-many", [&] { ++runs; }).join();
    });
  }
  for (auto& t : callers) t.join();
  EXPECT_EQ(runs, kCallers * kEach);
}

}  // namespace
}  // namespace sluice
