// The region timer (ops/region_timer.h): which parallel regions it counts, under which kind, and the
// calling thread's wait at a region's end.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "kvlab/ops/region_timer.h"
#include "kvlab/ops/thread_team.h"
#include "kvlab/ops/threads.h"

namespace kvlab {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int64_t kSpinNs = 2'000'000;

// Busy for at least kSpinNs of wall time (a sleep could be cut short by nothing, but a spin is plainer).
void Spin() {
  const auto until = Clock::now() + std::chrono::nanoseconds(kSpinNs);
  while (Clock::now() < until) {
  }
}

constexpr size_t Kind(RegionKind k) { return static_cast<size_t>(k); }  // an index into wait_ns and count

TEST(RegionTimer, CountsTheCallersOutermostRegionsUnderTheInnermostKind) {
  for (int threads : {1, 2}) {
    SetNumThreads(threads);
    RegionTimes times;
    ParallelRun(2, [](size_t, size_t) {});  // before the timer: not counted
    StartRegionTimer(&times);
    {
      const RegionKindScope weights(RegionKind::kWeights);
      ParallelRun(2, [](size_t t, size_t) {
        if (t == 0) Spin();
      });
      const RegionKindScope attention(RegionKind::kAttention);  // nested scope: the inner kind wins
      ParallelRun(2, [](size_t t, size_t) {
        if (t == 0) Spin();
        ParallelRun(2, [](size_t, size_t) {});  // inside a region: part of it, not a region of its own
      });
    }
    ParallelRun(2, [](size_t, size_t) {});  // outside every scope: kOther
    // Another thread's regions are its own business, even while this thread's timer runs.
    std::thread([] { ParallelRun(2, [](size_t, size_t) {}); }).join();
    StopRegionTimer();
    {
      const RegionKindScope weights(RegionKind::kWeights);
      ParallelRun(2, [](size_t, size_t) {});  // after the timer: not counted
    }
    EXPECT_EQ(times.count[Kind(RegionKind::kWeights)], 1) << threads << " threads";
    EXPECT_EQ(times.count[Kind(RegionKind::kAttention)], 1) << threads << " threads";
    EXPECT_EQ(times.count[Kind(RegionKind::kOther)], 1) << threads << " threads";
    EXPECT_GE(times.Ns(RegionKind::kWeights), kSpinNs);
    EXPECT_GE(times.Ns(RegionKind::kAttention), kSpinNs);
    EXPECT_EQ(times.TotalNs(), times.ns[0] + times.ns[1] + times.ns[2]);
    // The caller spun in its own share: whatever it waited for the other thread is far less than the spin.
    EXPECT_LT(times.wait_ns[Kind(RegionKind::kWeights)], times.Ns(RegionKind::kWeights));
  }
  SetNumThreads(1);
}

TEST(RegionTimer, TheWaitIsTheCallerIdlingForTheOtherThreads) {
  SetNumThreads(2);
  RegionTimes times;
  StartRegionTimer(&times);
  {
    const RegionKindScope attention(RegionKind::kAttention);
    // The caller's share is empty; the worker spins, so the caller waits for about all of the region.
    ParallelRun(2, [](size_t t, size_t) {
      if (t == 1) Spin();
    });
  }
  StopRegionTimer();
  EXPECT_GE(times.wait_ns[Kind(RegionKind::kAttention)], kSpinNs);
  EXPECT_LE(times.wait_ns[Kind(RegionKind::kAttention)], times.Ns(RegionKind::kAttention));
  EXPECT_EQ(times.TotalWaitNs(), times.wait_ns[Kind(RegionKind::kAttention)]);

  // One thread: the region runs on the caller alone, which never waits.
  SetNumThreads(1);
  RegionTimes serial;
  StartRegionTimer(&serial);
  ParallelRun(2, [](size_t, size_t) { Spin(); });
  StopRegionTimer();
  EXPECT_GE(serial.Ns(RegionKind::kOther), kSpinNs);
  EXPECT_EQ(serial.TotalWaitNs(), 0);
}

TEST(RegionTimer, TimesAddUp) {
  RegionTimes a, b;
  a.ns = {1, 2, 3};
  a.count = {1, 1, 1};
  a.wait_ns = {0, 1, 0};
  b.ns = {10, 20, 30};
  b.count = {2, 0, 1};
  b.wait_ns = {5, 0, 0};
  a += b;
  EXPECT_EQ(a.ns, (std::array<int64_t, kRegionKinds>{11, 22, 33}));
  EXPECT_EQ(a.count, (std::array<int64_t, kRegionKinds>{3, 1, 2}));
  EXPECT_EQ(a.TotalWaitNs(), 6);
  EXPECT_EQ(a.TotalNs(), 66);
}

}  // namespace
}  // namespace kvlab
