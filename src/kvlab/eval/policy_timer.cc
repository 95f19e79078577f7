#include "kvlab/eval/policy_timer.h"

#include <chrono>

namespace kvlab {

namespace {
int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

void PolicyTimer::Observe(const AttentionRow& row) {
  const int64_t t0 = NowNs();
  inner_->Observe(row);
  observe_ns_.fetch_add(NowNs() - t0, std::memory_order_relaxed);
}

void PolicyTimer::WillObserve(size_t layer, size_t kv_head) {
  const int64_t t0 = NowNs();
  inner_->WillObserve(layer, kv_head);
  observe_ns_.fetch_add(NowNs() - t0, std::memory_order_relaxed);
}

void PolicyTimer::Compress(size_t layer, KvCache& cache) {
  const int64_t t0 = NowNs();
  inner_->Compress(layer, cache);
  compress_ns_.fetch_add(NowNs() - t0, std::memory_order_relaxed);
}

}  // namespace kvlab
