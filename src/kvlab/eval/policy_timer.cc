#include "kvlab/eval/policy_timer.h"

#include <algorithm>
#include <chrono>

namespace kvlab {

namespace {
int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

size_t PolicyTimer::ThreadSlot() {
  static std::atomic<size_t> next{0};
  thread_local const size_t slot = next.fetch_add(1, std::memory_order_relaxed) % kThreadSlots;
  return slot;
}

int64_t PolicyTimer::ObserveNs() const {
  int64_t sum = 0;
  for (const ThreadNs& t : observe_ns_) sum += t.ns.load();
  return sum;
}

int64_t PolicyTimer::BusiestThreadObserveNs() const {
  int64_t most = 0;
  for (const ThreadNs& t : observe_ns_) most = std::max(most, t.ns.load());
  return most;
}

void PolicyTimer::ResetTimes() {
  for (ThreadNs& t : observe_ns_) t.ns = 0;
  compress_ns_ = 0;
}

void PolicyTimer::Observe(const AttentionRow& row) {
  const int64_t t0 = NowNs();
  inner_->Observe(row);
  observe_ns_[ThreadSlot()].ns.fetch_add(NowNs() - t0, std::memory_order_relaxed);
}

void PolicyTimer::WillObserve(size_t layer, size_t kv_head) {
  const int64_t t0 = NowNs();
  inner_->WillObserve(layer, kv_head);
  observe_ns_[ThreadSlot()].ns.fetch_add(NowNs() - t0, std::memory_order_relaxed);
}

void PolicyTimer::Compress(size_t layer, KvCache& cache) {
  const int64_t t0 = NowNs();
  inner_->Compress(layer, cache);
  compress_ns_.fetch_add(NowNs() - t0, std::memory_order_relaxed);
}

}  // namespace kvlab
