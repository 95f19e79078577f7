#include "attention_capture.h"

#include <string>

#include "kvlab/util/error.h"

namespace kvlab::python {

AttentionCapture::AttentionCapture(KvPolicy* inner, size_t n_layers, size_t n_heads, std::vector<int> layers)
    : inner_(inner), n_heads_(n_heads), layers_(std::move(layers)), slot_of_layer_(n_layers, -1) {
  for (size_t i = 0; i < layers_.size(); ++i)
    slot_of_layer_[static_cast<size_t>(layers_[i])] = static_cast<int>(i);
  records_.resize(layers_.size());
}

void AttentionCapture::Begin(int32_t start_pos, size_t n, size_t max_bytes) {
  const size_t width = static_cast<size_t>(start_pos) + n;
  const size_t bytes = layers_.size() * n * n_heads_ * width * sizeof(float);
  if (bytes > max_bytes) {
    throw Error("record_attention",
                "recording " + std::to_string(layers_.size()) + " layers over " + std::to_string(n) +
                    " tokens at positions up to " + std::to_string(width) + " would take " +
                    std::to_string(bytes >> 20) + " MiB",
                "feed fewer tokens per call while recording, or record fewer layers");
  }
  start_pos_ = start_pos;
  n_ = n;
  for (auto& r : records_) r.assign(n * n_heads_ * width, 0.0f);
}

const std::vector<float>* AttentionCapture::Record(size_t layer) const {
  if (layer >= slot_of_layer_.size() || slot_of_layer_[layer] < 0) return nullptr;
  return &records_[static_cast<size_t>(slot_of_layer_[layer])];
}

std::string AttentionCapture::Spec() const { return inner_ ? inner_->Spec() : "full"; }

void AttentionCapture::Observe(const AttentionRow& row) {
  if (inner_ && inner_->WantsAttention()) inner_->Observe(row);
  const int slot = row.layer < slot_of_layer_.size() ? slot_of_layer_[row.layer] : -1;
  if (slot < 0) return;
  const size_t width = static_cast<size_t>(start_pos_) + n_;
  const size_t query = static_cast<size_t>(row.query_pos - start_pos_);
  if (row.query_pos < start_pos_ || query >= n_) return;  // not part of this Forward (cannot happen)
  // Rows of different kv heads arrive from different threads; each writes only its own heads' rows.
  float* out = records_[static_cast<size_t>(slot)].data() + (query * n_heads_ + row.head) * width;
  for (size_t j = 0; j < row.probs.size(); ++j) {
    const auto pos = static_cast<size_t>(row.slots[j].pos);
    if (pos < width) out[pos] += row.probs[j];
  }
}

std::unique_ptr<KvPolicy> AttentionCapture::Clone() const {
  // A capture belongs to the stream that records; nothing copies streams.
  throw Error("record_attention", "an attention capture cannot be cloned");
}

}  // namespace kvlab::python
