#include "kvlab/kv/cache.h"

#include <algorithm>
#include <cstring>

#include "kvlab/util/error.h"

namespace kvlab {

KvCache::KvCache(const ModelConfig& config, size_t capacity)
    : n_layers_(static_cast<size_t>(config.n_layers)),
      n_kv_heads_(static_cast<size_t>(config.n_kv_heads)),
      head_dim_(static_cast<size_t>(config.head_dim)),
      capacity_(capacity),
      keys_(n_layers_ * n_kv_heads_ * capacity * head_dim_),
      values_(n_layers_ * n_kv_heads_ * capacity * head_dim_),
      meta_(n_layers_ * n_kv_heads_ * capacity),
      size_(n_layers_ * n_kv_heads_, 0) {}

size_t KvCache::MaxSize(size_t layer) const {
  size_t m = 0;
  for (size_t h = 0; h < n_kv_heads_; ++h) m = std::max<size_t>(m, Size(layer, h));
  return m;
}

size_t KvCache::FreeSlots() const {
  size_t used = 0;
  for (uint32_t s : size_) used = std::max<size_t>(used, s);
  return capacity_ - used;
}

size_t KvCache::TotalSlots() const {
  size_t total = 0;
  for (uint32_t s : size_) total += s;
  return total;
}

void KvCache::Append(size_t layer, const float* k, const float* v, int32_t pos) {
  for (size_t h = 0; h < n_kv_heads_; ++h) {
    const size_t idx = Index(layer, h);
    const size_t slot = size_[idx];
    KVLAB_CHECK(slot < capacity_);
    const size_t off = Offset(layer, h) + slot * head_dim_;
    std::memcpy(keys_.data() + off, k + h * head_dim_, head_dim_ * sizeof(float));
    std::memcpy(values_.data() + off, v + h * head_dim_, head_dim_ * sizeof(float));
    meta_[idx * capacity_ + slot] = SlotMeta{pos, 1};
    size_[idx] = static_cast<uint32_t>(slot + 1);
  }
}

void KvCache::Keep(size_t layer, size_t head, std::span<const uint32_t> slots) {
  const size_t idx = Index(layer, head);
  const size_t n = size_[idx];
  float* keys = MutableKeys(layer, head);
  float* values = MutableValues(layer, head);
  SlotMeta* meta = meta_.data() + idx * capacity_;
  size_t out = 0;
  for (size_t i = 0; i < slots.size(); ++i) {
    const size_t src = slots[i];
    KVLAB_CHECK(src < n && (i == 0 || slots[i - 1] < src));
    if (src != out) {  // src >= out always (ascending), so moving forward never overwrites a kept slot
      std::memcpy(keys + out * head_dim_, keys + src * head_dim_, head_dim_ * sizeof(float));
      std::memcpy(values + out * head_dim_, values + src * head_dim_, head_dim_ * sizeof(float));
      meta[out] = meta[src];
    }
    ++out;
  }
  size_[idx] = static_cast<uint32_t>(out);
}

void KvCache::Merge(size_t layer, size_t head, uint32_t into, uint32_t from) {
  const size_t idx = Index(layer, head);
  KVLAB_CHECK(into < size_[idx] && from < size_[idx] && into != from);
  SlotMeta& a = meta_[idx * capacity_ + into];
  const SlotMeta& b = meta_[idx * capacity_ + from];
  // Weighted mean in double weights: counts can grow large, and w_a + w_b == 1 keeps the mean exact for
  // equal vectors.
  const double total = static_cast<double>(a.count) + b.count;
  const float wa = static_cast<float>(a.count / total), wb = static_cast<float>(b.count / total);
  float* keys = MutableKeys(layer, head);
  float* values = MutableValues(layer, head);
  float* ka = keys + into * head_dim_;
  float* va = values + into * head_dim_;
  const float* kb = keys + from * head_dim_;
  const float* vb = values + from * head_dim_;
  for (size_t i = 0; i < head_dim_; ++i) {
    ka[i] = wa * ka[i] + wb * kb[i];
    va[i] = wa * va[i] + wb * vb[i];
  }
  a.count += b.count;
}

void KvCache::Clear() { std::fill(size_.begin(), size_.end(), 0u); }

size_t KvCache::Bytes() const {
  return TotalSlots() * (2 * head_dim_ * sizeof(float) + sizeof(SlotMeta));
}

size_t KvCache::AllocatedBytes() const {
  return (keys_.size() + values_.size()) * sizeof(float) + meta_.size() * sizeof(SlotMeta) +
         size_.size() * sizeof(uint32_t);
}

}  // namespace kvlab
