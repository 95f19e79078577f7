// CompositePolicy: "a+b" — runs several policies on the same cache in order (e.g. evict, then quantize).
#pragma once

#include <memory>
#include <vector>

#include "kvlab/kv/policy.h"

namespace kvlab {

class CompositePolicy final : public KvPolicy {
 public:
  explicit CompositePolicy(std::vector<std::unique_ptr<KvPolicy>> parts);
  std::string Spec() const override;
  void Bind(const KvCacheShape& shape) override;
  size_t MaxSlots() const override;  // the tightest of the parts
  bool WantsAttention() const override;
  void Observe(const AttentionRow& row) override;
  void WillObserve(size_t layer, size_t kv_head) override;
  void Compress(size_t layer, KvCache& cache) override;
  KvCodec Codec() const override;  // the one quantizing part's (MakePolicy rejects two)
  size_t MetadataBytes() const override;
  std::unique_ptr<KvPolicy> Clone() const override;

 private:
  std::vector<std::unique_ptr<KvPolicy>> parts_;
};

}  // namespace kvlab
