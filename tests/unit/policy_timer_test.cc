// PolicyTimer: the time of every thread's Observe and WillObserve calls is summed (each thread adds to its
// own counter) and the busiest thread's is read apart, Compress is timed apart, and ResetTimes starts all
// from zero. The checks are lower bounds only: the wrapped policy spins for at least a known time per
// call, so a slow machine cannot fail them.
#include "kvlab/eval/policy_timer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "kvlab/kv/cache.h"
#include "kvlab/kv/policy.h"

namespace kvlab {
namespace {

constexpr std::chrono::microseconds kSpin{200};

void Spin() {
  const auto until = std::chrono::steady_clock::now() + kSpin;
  while (std::chrono::steady_clock::now() < until) {
  }
}

// Spins in every hook it times.
class SpinningPolicy final : public KvPolicy {
 public:
  std::string Spec() const override { return "spinning"; }
  size_t MaxSlots() const override { return kUnbounded; }
  bool WantsAttention() const override { return true; }
  void Observe(const AttentionRow&) override { Spin(); }
  void WillObserve(size_t, size_t) override { Spin(); }
  void Compress(size_t, KvCache&) override { Spin(); }
  std::unique_ptr<KvPolicy> Clone() const override { return std::make_unique<SpinningPolicy>(); }
};

TEST(PolicyTimer, SumsObserveOverThreadsAndTimesCompressApart) {
  PolicyTimer timer(std::make_unique<SpinningPolicy>());
  constexpr int kThreads = 3, kCallsEach = 4;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&timer] {
      for (int i = 0; i < kCallsEach; ++i) {
        timer.WillObserve(0, 0);
        timer.Observe(AttentionRow{});
      }
    });
  }
  for (std::thread& t : threads) t.join();
  const int64_t spin_ns = std::chrono::nanoseconds(kSpin).count();
  EXPECT_GE(timer.ObserveNs(), 2 * kThreads * kCallsEach * spin_ns);  // every thread's calls, not one's
  // The busiest thread's share: one thread's calls at least, and the others' on top make up the sum.
  EXPECT_GE(timer.BusiestThreadObserveNs(), 2 * kCallsEach * spin_ns);
  EXPECT_GE(timer.ObserveNs(), timer.BusiestThreadObserveNs() + 2 * (kThreads - 1) * kCallsEach * spin_ns);
  EXPECT_EQ(timer.CompressNs(), 0);

  timer.ResetTimes();
  EXPECT_EQ(timer.ObserveNs(), 0);
  EXPECT_EQ(timer.BusiestThreadObserveNs(), 0);
  KvCacheShape shape;
  shape.n_layers = 1;
  shape.n_heads = 1;
  shape.n_kv_heads = 1;
  shape.head_dim = 4;
  KvCache cache(shape, 1);
  timer.Compress(0, cache);
  EXPECT_EQ(timer.ObserveNs(), 0);
  EXPECT_GE(timer.CompressNs(), spin_ns);
}

}  // namespace
}  // namespace kvlab
