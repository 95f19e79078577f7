#include "kvlab/ops/work_shares.h"

#include <algorithm>

#include "kvlab/util/error.h"

namespace kvlab {

namespace {
constexpr uint64_t Pack(uint64_t next, uint64_t end) { return next << 32 | end; }
constexpr size_t RangeNext(uint64_t r) { return static_cast<size_t>(r >> 32); }
constexpr size_t RangeEnd(uint64_t r) { return static_cast<size_t>(r & 0xffffffffu); }
}  // namespace

WorkShares::WorkShares(size_t count, size_t threads) : threads_(threads) {
  KVLAB_CHECK(threads >= 1 && threads <= kMaxThreads && count <= 0xffffffffu);
  for (size_t t = 0; t < threads; ++t) {
    shares_[t].range.store(Pack(ShareBegin(count, threads, t), ShareBegin(count, threads, t + 1)),
                           std::memory_order_relaxed);
  }
}

bool WorkShares::Next(size_t t, size_t& begin, size_t& end) {
  std::atomic<uint64_t>& mine = shares_[t].range;
  for (;;) {
    uint64_t r = mine.load(std::memory_order_relaxed);
    while (RangeNext(r) < RangeEnd(r)) {
      // Halving chunks: few kernel calls per share (each restarts its prefetch stream), and a tail that a
      // thief can still split.
      const size_t take = std::max<size_t>(1, (RangeEnd(r) - RangeNext(r)) / 2);
      if (mine.compare_exchange_weak(r, Pack(RangeNext(r) + take, RangeEnd(r)), std::memory_order_relaxed)) {
        begin = RangeNext(r);
        end = RangeNext(r) + take;
        return true;
      }
    }
    if (!Steal(t)) return false;
  }
}

// Moves the back half of the largest other share into thread t's (empty) share. Only t itself ever makes
// its share non-empty again, so a thief that read it empty never races with this store.
bool WorkShares::Steal(size_t t) {
  for (;;) {
    size_t victim = threads_, most = 0;
    uint64_t seen = 0;
    for (size_t v = 0; v < threads_; ++v) {
      const uint64_t r = shares_[v].range.load(std::memory_order_relaxed);
      if (v != t && RangeEnd(r) > RangeNext(r) && RangeEnd(r) - RangeNext(r) > most) {
        victim = v;
        most = RangeEnd(r) - RangeNext(r);
        seen = r;
      }
    }
    if (victim == threads_) return false;
    const size_t steal = (most + 1) / 2;  // the back half, rounded up so a last item is taken too
    const size_t cut = RangeEnd(seen) - steal;
    if (shares_[victim].range.compare_exchange_strong(seen, Pack(RangeNext(seen), cut), std::memory_order_relaxed)) {
      shares_[t].range.store(Pack(cut, RangeEnd(seen)), std::memory_order_relaxed);
      return true;
    }
  }
}

}  // namespace kvlab
