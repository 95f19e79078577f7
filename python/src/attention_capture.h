// AttentionCapture: a KvPolicy decorator that records, for chosen layers, every attention row of one
// Forward call spread over original positions, for `Stream.attention(layer)`. Every call is forwarded to
// the wrapped policy (null: the full cache), so the stream behaves exactly as without the capture.
// A summary slot (count > 1) puts its whole probability on its founder position, as eval's
// AttentionRecorder does.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "kvlab/kv/policy.h"

namespace kvlab::python {

class AttentionCapture final : public KvPolicy {
 public:
  // inner: not owned, may be null. layers: the layers to record, each < n_layers (checked by the caller).
  AttentionCapture(KvPolicy* inner, size_t n_layers, size_t n_heads, std::vector<int> layers);

  // Clears the records and sizes them for a Forward of n tokens starting at start_pos. Throws
  // kvlab::Error when the records would take more than max_bytes.
  void Begin(int32_t start_pos, size_t n, size_t max_bytes);
  const std::vector<int>& layers() const { return layers_; }
  // The record of `layer` (one of layers()), [n][n_heads][start_pos + n] as float32; null if not recorded.
  const std::vector<float>* Record(size_t layer) const;
  int32_t start_pos() const { return start_pos_; }
  size_t tokens() const { return n_; }
  size_t n_heads() const { return n_heads_; }

  std::string Spec() const override;
  size_t MaxSlots() const override { return inner_ ? inner_->MaxSlots() : kUnbounded; }
  bool WantsAttention() const override { return true; }
  void Observe(const AttentionRow& row) override;
  void Compress(size_t layer, KvCache& cache) override {
    if (inner_) inner_->Compress(layer, cache);
  }
  void OnCacheChanged(size_t layer, const KvCache& cache) override {
    if (inner_) inner_->OnCacheChanged(layer, cache);
  }
  KvCodec Codec() const override { return inner_ ? inner_->Codec() : KvCodec{}; }
  size_t MetadataBytes() const override { return inner_ ? inner_->MetadataBytes() : 0; }
  std::unique_ptr<KvPolicy> Clone() const override;

 private:
  KvPolicy* inner_;
  size_t n_heads_;
  std::vector<int> layers_;
  std::vector<int> slot_of_layer_;           // [n_layers] index into records_, -1 when not recorded
  std::vector<std::vector<float>> records_;  // [layers_.size()] each [n_][n_heads_][start_pos_ + n_]
  int32_t start_pos_ = 0;
  size_t n_ = 0;
};

}  // namespace kvlab::python
