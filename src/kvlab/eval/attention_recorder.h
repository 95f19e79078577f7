// AttentionRecorder: a KvPolicy decorator for measurement. It forwards every call to the policy it wraps
// (so the stream behaves exactly as under that policy) and, while armed for one query position, records
// for chosen layers each query head's attention row spread over original positions, which positions the
// cache still holds, and the head's attention output o = sum_j p_j v_j recomputed from the cache's values.
//
// A summary slot (count > 1, docs/POLICIES.md) attributes its whole probability to its founder position
// (SlotMeta::pos): which tokens were merged into it is not recorded anywhere.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "kvlab/kv/policy.h"
#include "kvlab/model/config.h"

namespace kvlab {

class AttentionRecorder final : public KvPolicy {
 public:
  struct HeadRecord {
    std::vector<double> probs;   // [query_pos + 1] attention mass per original position
    std::vector<uint8_t> kept;   // [query_pos + 1] 1 where the cache holds a slot founded at that position
    std::vector<double> output;  // [head_dim] attention output of the head
    bool seen = false;
  };

  // layers: the layers to record (each in range, checked by the caller).
  AttentionRecorder(std::unique_ptr<KvPolicy> inner, const ModelConfig& config, std::vector<int> layers);

  // The cache this stream runs on (for the values of the attention output); set before the first Forward.
  void SetCache(const KvCache* cache) { cache_ = cache; }
  // Records the rows of query position `pos` during the next Forward (armed) or nothing (not armed).
  void Arm(bool armed, int32_t pos);
  // The record of layers()[layer_index], query head `head`, from the last armed Forward.
  const HeadRecord& Record(size_t layer_index, size_t head) const {
    return records_[layer_index * n_heads_ + head];
  }
  const std::vector<int>& layers() const { return layers_; }
  const KvPolicy& inner() const { return *inner_; }

  std::string Spec() const override { return inner_->Spec(); }
  void Bind(const KvCacheShape& shape) override { inner_->Bind(shape); }
  size_t MaxSlots() const override { return inner_->MaxSlots(); }
  bool WantsAttention() const override { return armed_ || inner_->WantsAttention(); }
  void Observe(const AttentionRow& row) override;
  void WillObserve(size_t layer, size_t kv_head) override {
    if (inner_->WantsAttention()) inner_->WillObserve(layer, kv_head);
  }
  void Compress(size_t layer, KvCache& cache) override { inner_->Compress(layer, cache); }
  void OnCacheChanged(size_t layer, const KvCache& cache) override { inner_->OnCacheChanged(layer, cache); }
  KvCodec Codec() const override { return inner_->Codec(); }
  size_t MetadataBytes() const override { return inner_->MetadataBytes(); }
  std::unique_ptr<KvPolicy> Clone() const override;

 private:
  std::unique_ptr<KvPolicy> inner_;
  ModelConfig config_;
  std::vector<int> layers_;
  std::vector<int> layer_index_;  // [n_layers] index into layers_, -1 when not recorded
  size_t n_heads_ = 0;
  const KvCache* cache_ = nullptr;
  bool armed_ = false;
  int32_t pos_ = 0;
  std::vector<HeadRecord> records_;  // [layers_.size()][n_heads]
};

}  // namespace kvlab
