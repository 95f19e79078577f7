// Dynamic split of a parallel loop that keeps each thread on one contiguous stream of items.
//
// Why: the two vCPUs of these machines do not get equal memory bandwidth from moment to moment. With a
// fixed half of a mat-vec's rows each, one thread finished on average ~15 µs before the other (either one,
// at random), ~0.7 ms of a 4 ms decode step spent waiting. Here each thread starts on its own contiguous
// share, takes it front to back in halving chunks, and when it runs dry takes the back half of the largest
// share left: the streams stay long (the kernels prefetch ahead within them) and the threads finish
// within about one chunk of each other.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace kvlab {

class WorkShares {
 public:
  static constexpr size_t kMaxThreads = 64;

  // Items [0, count), one contiguous share per thread for `threads` threads (at most kMaxThreads).
  WorkShares(size_t count, size_t threads);

  // The first item of thread t's share, the one Next hands it first: [ShareBegin(t), ShareBegin(t + 1)).
  static size_t ShareBegin(size_t count, size_t threads, size_t t) { return count * t / threads; }

  // The next run [begin, end) of items for thread t (t < threads): from its own share while it lasts,
  // then stolen. Returns false once every item has been handed out. Safe to call from all threads at once.
  bool Next(size_t t, size_t& begin, size_t& end);

 private:
  // One share: items [next, end) not yet handed out, packed as next << 32 | end so that the owner taking
  // from the front and a thief taking from the back agree through one compare-and-swap.
  struct alignas(64) Share {
    std::atomic<uint64_t> range{0};
  };
  bool Steal(size_t t);

  Share shares_[kMaxThreads];
  size_t threads_;
};

}  // namespace kvlab
