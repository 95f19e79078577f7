#include "kvlab/kv/composite_policy.h"

#include <algorithm>

namespace kvlab {

CompositePolicy::CompositePolicy(std::vector<std::unique_ptr<KvPolicy>> parts) : parts_(std::move(parts)) {}

std::string CompositePolicy::Spec() const {
  std::string s;
  for (const auto& p : parts_) {
    if (!s.empty()) s += '+';
    s += p->Spec();
  }
  return s;
}

void CompositePolicy::Bind(const KvCacheShape& shape) {
  for (auto& p : parts_) p->Bind(shape);
}

size_t CompositePolicy::MaxSlots() const {
  size_t m = kUnbounded;
  for (const auto& p : parts_) m = std::min(m, p->MaxSlots());
  return m;
}

bool CompositePolicy::WantsAttention() const {
  return std::any_of(parts_.begin(), parts_.end(), [](const auto& p) { return p->WantsAttention(); });
}

void CompositePolicy::Observe(const AttentionRow& row) {
  for (auto& p : parts_) {
    if (p->WantsAttention()) p->Observe(row);
  }
}

void CompositePolicy::WillObserve(size_t layer, size_t kv_head) {
  for (auto& p : parts_) {
    if (p->WantsAttention()) p->WillObserve(layer, kv_head);
  }
}

void CompositePolicy::Compress(size_t layer, KvCache& cache) {
  for (auto& p : parts_) p->Compress(layer, cache);
  // Every part but the last may hold per-slot state for slots a later part evicted.
  for (size_t i = 0; i + 1 < parts_.size(); ++i) parts_[i]->OnCacheChanged(layer, cache);
}

KvCodec CompositePolicy::Codec() const {
  for (const auto& p : parts_) {
    if (p->Codec().quantized()) return p->Codec();
  }
  return {};
}

size_t CompositePolicy::MetadataBytes() const {
  size_t b = 0;
  for (const auto& p : parts_) b += p->MetadataBytes();
  return b;
}

std::unique_ptr<KvPolicy> CompositePolicy::Clone() const {
  std::vector<std::unique_ptr<KvPolicy>> copies;
  for (const auto& p : parts_) copies.push_back(p->Clone());
  return std::make_unique<CompositePolicy>(std::move(copies));
}

}  // namespace kvlab
