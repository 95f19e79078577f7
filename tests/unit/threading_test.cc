// The thread team (ops/thread_team.h) and the balanced split of loops over it (ops/work_shares.h).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <set>
#include <thread>
#include <vector>

#include "kvlab/ops/thread_team.h"
#include "kvlab/ops/threads.h"
#include "kvlab/ops/work_shares.h"

namespace kvlab {
namespace {

TEST(ThreadTeam, RunsEveryIndexOnceOnDistinctThreads) {
  for (int threads : {1, 2, 3}) {
    SetNumThreads(threads);
    for (size_t n : {1u, 2u, 3u, 8u}) {
      const size_t expected = std::min<size_t>(n, static_cast<size_t>(threads));
      for (int rep = 0; rep < 50; ++rep) {
        std::vector<std::atomic<int>> calls(8);
        std::vector<std::thread::id> ids(8);
        std::atomic<size_t> seen_n{0};
        ParallelRun(n, [&](size_t t, size_t nt) {
          calls[t].fetch_add(1);
          ids[t] = std::this_thread::get_id();
          seen_n.store(nt);
        });
        EXPECT_EQ(seen_n.load(), expected) << "threads=" << threads << " n=" << n;
        std::set<std::thread::id> distinct;
        for (size_t t = 0; t < 8; ++t) {
          EXPECT_EQ(calls[t].load(), t < expected ? 1 : 0) << "t=" << t << " threads=" << threads << " n=" << n;
          if (t < expected) distinct.insert(ids[t]);
        }
        EXPECT_EQ(distinct.size(), expected);
        EXPECT_EQ(ids[0], std::this_thread::get_id());  // the caller is member 0
      }
    }
  }
  SetNumThreads(0);
}

TEST(ThreadTeam, NestedAndConcurrentCallsRunSeriallyAndComplete) {
  SetNumThreads(2);
  std::atomic<int> inner{0};
  ParallelRun(2, [&](size_t, size_t) {
    // Inside a team task: the nested run happens on this thread, one index after another.
    const std::thread::id me = std::this_thread::get_id();
    ParallelRun(2, [&](size_t, size_t) {
      EXPECT_EQ(std::this_thread::get_id(), me);
      inner.fetch_add(1);
    });
  });
  EXPECT_EQ(inner.load(), 4);

  // Two caller threads at once: one gets the team, the other runs its indices itself; both finish.
  std::atomic<int> total{0};
  auto caller = [&] {
    for (int i = 0; i < 200; ++i) ParallelRun(2, [&](size_t, size_t) { total.fetch_add(1); });
  };
  std::thread other(caller);
  caller();
  other.join();
  EXPECT_EQ(total.load(), 800);
  SetNumThreads(0);
}

TEST(ThreadTeam, WorkersWakeAfterSleeping) {
  SetNumThreads(2);
  for (int rep = 0; rep < 3; ++rep) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // long past the spin: the worker sleeps
    std::atomic<int> calls{0};
    ParallelRun(2, [&](size_t, size_t) { calls.fetch_add(1); });
    EXPECT_EQ(calls.load(), 2);
  }
  SetNumThreads(0);
}

// Every item is handed out exactly once, whatever the interleaving, and each run is contiguous.
void ExpectEachItemOnce(size_t count, size_t threads, const std::vector<std::vector<std::pair<size_t, size_t>>>& runs) {
  std::vector<int> seen(count, 0);
  for (const auto& per_thread : runs) {
    for (const auto& [begin, end] : per_thread) {
      ASSERT_LT(begin, end);
      ASSERT_LE(end, count);
      for (size_t i = begin; i < end; ++i) ++seen[i];
    }
  }
  for (size_t i = 0; i < count; ++i) ASSERT_EQ(seen[i], 1) << "item " << i << " count=" << count << " threads=" << threads;
}

TEST(WorkShares, HandsOutEveryItemOnceFromOneCaller) {
  for (size_t count : {0u, 1u, 2u, 7u, 100u, 1000u}) {
    for (size_t threads : {1u, 2u, 3u, 5u}) {
      WorkShares shares(count, threads);
      // Only thread 0 asks (a nested, serial run): it takes its own share, then steals all the others.
      std::vector<std::vector<std::pair<size_t, size_t>>> runs(threads);
      size_t begin, end;
      while (shares.Next(0, begin, end)) runs[0].push_back({begin, end});
      ExpectEachItemOnce(count, threads, runs);
      for (size_t t = 1; t < threads; ++t) EXPECT_FALSE(shares.Next(t, begin, end));
    }
  }
}

TEST(WorkShares, AFastThreadTakesOverTheSlowOnesShare) {
  const size_t count = 400;
  for (int rep = 0; rep < 20; ++rep) {
    WorkShares shares(count, 2);
    std::vector<std::vector<std::pair<size_t, size_t>>> runs(2);
    std::atomic<bool> fast_done{false};
    // Thread 1 is stuck after its first run (at most half its share, 100 items) until thread 0 has run
    // dry, so thread 0 must take everything else: its own share and the rest of thread 1's. No timing.
    std::thread slow([&] {
      size_t begin, end;
      if (shares.Next(1, begin, end)) runs[1].push_back({begin, end});
      while (!fast_done.load()) std::this_thread::yield();
      while (shares.Next(1, begin, end)) runs[1].push_back({begin, end});
    });
    size_t begin, end;
    while (shares.Next(0, begin, end)) runs[0].push_back({begin, end});
    fast_done.store(true);
    slow.join();
    ExpectEachItemOnce(count, 2, runs);
    EXPECT_LE(runs[1].size(), 1u) << "rep " << rep;  // nothing left once thread 0 is done
    size_t taken_by_fast = 0;
    for (const auto& [b, e] : runs[0]) taken_by_fast += e - b;
    EXPECT_GE(taken_by_fast, 300u) << "rep " << rep;
    // Thread 0 starts with its own share from the front: its first run begins at item 0.
    EXPECT_EQ(runs[0].front().first, 0u);
  }
}

TEST(WorkShares, ConcurrentThreadsAgreeOnEveryItem) {
  for (size_t threads : {2u, 3u, 4u}) {
    for (int rep = 0; rep < 50; ++rep) {
      const size_t count = 1 + static_cast<size_t>(rep) * 37 % 500;
      WorkShares shares(count, threads);
      std::vector<std::vector<std::pair<size_t, size_t>>> runs(threads);
      std::vector<std::thread> pool;
      for (size_t t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
          size_t begin, end;
          while (shares.Next(t, begin, end)) runs[t].push_back({begin, end});
        });
      }
      for (std::thread& th : pool) th.join();
      ExpectEachItemOnce(count, threads, runs);
    }
  }
}

}  // namespace
}  // namespace kvlab
