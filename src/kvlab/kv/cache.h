// KvCache: the caller-owned key/value store of one stream.
//
// Per (layer, kv_head) the cache holds a list of *slots*. A slot carries one key and one value vector and
// the original position of the token it came from (llama.cpp's "cells" idea: slot index != position).
// Keys are stored after RoPE. Compression policies remove slots with Keep() (stable compaction inside
// a fixed allocation, so no reallocation per token) and the attention kernels read the live slots as
// contiguous arrays, so attention over a compressed cache is the same dense loop as over a full one.
// Different heads of one layer may hold different numbers of slots (per-head budgets).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "kvlab/model/config.h"

namespace kvlab {

struct SlotMeta {
  int32_t pos = 0;     // original token position (RoPE was applied at this position)
  uint32_t count = 1;  // tokens this slot stands for (> 1 for merged summary slots)
};

class KvCache {
 public:
  // capacity: slots per (layer, kv_head). Allocates the whole store once.
  KvCache(const ModelConfig& config, size_t capacity);

  size_t n_layers() const { return n_layers_; }
  size_t n_kv_heads() const { return n_kv_heads_; }
  size_t head_dim() const { return head_dim_; }
  size_t capacity() const { return capacity_; }

  size_t Size(size_t layer, size_t head) const { return size_[Index(layer, head)]; }
  // Largest slot count over the heads of a layer (what an append must fit next to).
  size_t MaxSize(size_t layer) const;
  // Slots that can still be appended to every head of every layer.
  size_t FreeSlots() const;
  // Total live slots over all layers and heads.
  size_t TotalSlots() const;

  // Appends one token's keys and values for every kv head of `layer`. k, v: [n_kv_heads][head_dim].
  // Precondition (checked): every head of the layer has a free slot.
  void Append(size_t layer, const float* k, const float* v, int32_t pos);

  // Live slots of one head, contiguous: keys/values [Size][head_dim], meta [Size].
  const float* Keys(size_t layer, size_t head) const { return keys_.data() + Offset(layer, head); }
  const float* Values(size_t layer, size_t head) const { return values_.data() + Offset(layer, head); }
  float* MutableKeys(size_t layer, size_t head) { return keys_.data() + Offset(layer, head); }
  float* MutableValues(size_t layer, size_t head) { return values_.data() + Offset(layer, head); }
  std::span<const SlotMeta> Meta(size_t layer, size_t head) const {
    return {meta_.data() + Index(layer, head) * capacity_, Size(layer, head)};
  }
  std::span<SlotMeta> MutableMeta(size_t layer, size_t head) {
    return {meta_.data() + Index(layer, head) * capacity_, Size(layer, head)};
  }

  // Keeps only the given slots (strictly ascending indices), compacting them to the front in order.
  void Keep(size_t layer, size_t head, std::span<const uint32_t> slots);
  // Folds slot `from` into slot `into` (summary slots, docs/POLICIES.md): `into` becomes the count-weighted
  // mean of both keys and both values and its count the sum; its position stays (a summary keeps the
  // position of the token that founded it, so positions stay unique and ascending without moving slots).
  // `from` is left as it is: the caller drops it with Keep, so a batch of merges costs one compaction.
  // Attention then adds log(count) to a summary slot's logit (ops/attention.h). Preconditions (checked):
  // both slots live, into != from.
  void Merge(size_t layer, size_t head, uint32_t into, uint32_t from);
  void Clear();

  // Exact bytes held by live slots: keys + values + slot metadata.
  size_t Bytes() const;
  // Bytes allocated for the whole capacity.
  size_t AllocatedBytes() const;

 private:
  size_t Index(size_t layer, size_t head) const { return layer * n_kv_heads_ + head; }
  size_t Offset(size_t layer, size_t head) const { return Index(layer, head) * capacity_ * head_dim_; }

  size_t n_layers_, n_kv_heads_, head_dim_, capacity_;
  std::vector<float> keys_;      // [layers][kv_heads][capacity][head_dim]
  std::vector<float> values_;    // [layers][kv_heads][capacity][head_dim]
  std::vector<SlotMeta> meta_;   // [layers][kv_heads][capacity]
  std::vector<uint32_t> size_;   // [layers][kv_heads] live slots
};

}  // namespace kvlab
