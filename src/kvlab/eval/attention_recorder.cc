#include "kvlab/eval/attention_recorder.h"

#include "kvlab/util/error.h"

namespace kvlab {

AttentionRecorder::AttentionRecorder(std::unique_ptr<KvPolicy> inner, const ModelConfig& config,
                                     std::vector<int> layers)
    : inner_(std::move(inner)),
      config_(config),
      layers_(std::move(layers)),
      layer_index_(static_cast<size_t>(config.n_layers), -1),
      n_heads_(static_cast<size_t>(config.n_heads)),
      records_(layers_.size() * n_heads_) {
  for (size_t i = 0; i < layers_.size(); ++i) {
    KVLAB_CHECK(layers_[i] >= 0 && layers_[i] < config.n_layers);
    layer_index_[static_cast<size_t>(layers_[i])] = static_cast<int>(i);
  }
}

void AttentionRecorder::Arm(bool armed, int32_t pos) {
  armed_ = armed;
  pos_ = pos;
  if (!armed) return;
  for (HeadRecord& r : records_) {
    r.probs.assign(static_cast<size_t>(pos) + 1, 0.0);
    r.kept.assign(static_cast<size_t>(pos) + 1, 0);
    r.output.assign(static_cast<size_t>(config_.head_dim), 0.0);
    r.seen = false;
  }
}

void AttentionRecorder::Observe(const AttentionRow& row) {
  if (inner_->WantsAttention()) inner_->Observe(row);
  if (!armed_ || row.query_pos != pos_) return;
  const int index = layer_index_[row.layer];
  if (index < 0) return;
  KVLAB_CHECK(cache_ != nullptr);
  HeadRecord& r = records_[static_cast<size_t>(index) * n_heads_ + row.head];
  std::vector<float> scratch(static_cast<size_t>(config_.head_dim));  // [head_dim] a decoded value row
  for (size_t j = 0; j < row.slots.size(); ++j) {
    const int32_t p = row.slots[j].pos;
    if (p > pos_) continue;  // masked (probability 0)
    r.probs[static_cast<size_t>(p)] += row.probs[j];
    r.kept[static_cast<size_t>(p)] = 1;
    const float* v = cache_->ValueRow(row.layer, row.kv_head, j, scratch.data());
    for (size_t d = 0; d < r.output.size(); ++d) r.output[d] += static_cast<double>(row.probs[j]) * v[d];
  }
  r.seen = true;
}

std::unique_ptr<KvPolicy> AttentionRecorder::Clone() const {
  return std::make_unique<AttentionRecorder>(inner_->Clone(), config_, layers_);
}

}  // namespace kvlab
