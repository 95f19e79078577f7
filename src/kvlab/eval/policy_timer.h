// PolicyTimer: wraps a policy and measures the time its own hooks take (Observe + Compress), so
// `kvlab bench --kv` can report a policy's overhead as a fraction of the decode step. Clock reads cost
// ~20 ns per call, a few hundred calls per step: negligible against a millisecond step.
#pragma once

#include <atomic>
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
  int64_t ObserveNs() const { return observe_ns_.load(); }
  int64_t CompressNs() const { return compress_ns_.load(); }
  void ResetTimes() {
    observe_ns_ = 0;
    compress_ns_ = 0;
  }

 private:
  std::unique_ptr<KvPolicy> inner_;
  std::atomic<int64_t> observe_ns_{0};   // Observe runs on several threads at once
  std::atomic<int64_t> compress_ns_{0};
};

}  // namespace kvlab
