// PolicyTimer: wraps a policy and measures the time its own hooks take (Observe + Compress), so
// `kvlab bench --kv` can report a policy's overhead as a fraction of the decode step. Clock reads cost
// ~20 ns per call, a few hundred calls per step: negligible against a millisecond step.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "kvlab/kv/policy.h"

namespace kvlab {

class PolicyTimer final : public KvPolicy {
 public:
  explicit PolicyTimer(std::unique_ptr<KvPolicy> inner) : inner_(std::move(inner)) {}
  std::string Spec() const override { return inner_->Spec(); }
  void Bind(const KvCacheShape& shape) override { inner_->Bind(shape); }
  size_t MaxSlots() const override { return inner_->MaxSlots(); }
  bool WantsAttention() const override { return inner_->WantsAttention(); }
  void Observe(const AttentionRow& row) override;
  void WillObserve(size_t layer, size_t kv_head) override;  // timed as Observe
  void Compress(size_t layer, KvCache& cache) override;
  void OnCacheChanged(size_t layer, const KvCache& cache) override { inner_->OnCacheChanged(layer, cache); }
  KvCodec Codec() const override { return inner_->Codec(); }
  size_t MetadataBytes() const override { return inner_->MetadataBytes(); }
  std::unique_ptr<KvPolicy> Clone() const override { return std::make_unique<PolicyTimer>(inner_->Clone()); }

  // Every KvPolicy virtual must be forwarded above, or the wrapped policy silently loses that behaviour.
  // Nanoseconds spent in the inner policy's hooks since the last Reset, summed over threads.
  int64_t ObserveNs() const;
  // The most any one thread spent in Observe (and WillObserve) since the last Reset. The attention threads
  // observe their heads at the same time and share the heads out as they go, so this, not the sum, is
  // about what Observe adds to a step's wall time.
  int64_t BusiestThreadObserveNs() const;
  // Compress, timed around each call: wall time, also when a policy evicts heads on several threads.
  int64_t CompressNs() const { return compress_ns_.load(); }
  void ResetTimes();

 private:
  // Observe runs on every attention thread at once. One shared counter would move its cache line between
  // the cores on every call, a wait the step would pay for without it being the policy's; so each thread
  // adds to its own line (threads are given slots in turn; two sharing one still add atomically).
  static constexpr size_t kThreadSlots = 16;
  struct alignas(64) ThreadNs {
    std::atomic<int64_t> ns{0};
  };
  static size_t ThreadSlot();

  std::unique_ptr<KvPolicy> inner_;
  std::array<ThreadNs, kThreadSlots> observe_ns_;  // summed by ObserveNs
  std::atomic<int64_t> compress_ns_{0};            // Compress is called from one thread
};

}  // namespace kvlab
