#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "base/thread.h"

namespace sluice {
namespace {

TEST(JobThread, RunsJobsInTurnOnOneThread) {
  job_thread t("test-job");
  std::thread::id first{}, id{};
  int sum = 0;
  for (int i = 1; i <= 100; ++i) {
    t.start([&, i] {
      id = std::this_thread::get_id();
      sum += i;
    });
    t.wait();
    if (i == 1) first = id;
    EXPECT_EQ(id, first);  // the same thread every time, not a new one per job
  }
  EXPECT_NE(first, std::this_thread::get_id());
  EXPECT_EQ(sum, 5050);
}

TEST(JobThread, WaitWithoutAJobReturnsAndTheDestructorWaitsForTheJob) {
  std::atomic<bool> done{false};
  {
    job_thread t("test-job");
    t.wait();
    t.start([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      done = true;
    });
  }
  EXPECT_TRUE(done.load());
}

TEST(JobThread, StartingBeforeWaitingIsABug) {
  job_thread t("test-job");
  std::atomic<bool> release{false};
  t.start([&] {
    while (!release.load()) std::this_thread::yield();
  });
  EXPECT_THROW(t.start([] {}), std::logic_error);
  release = true;
  t.wait();
}

}  // namespace
}  // namespace sluice
