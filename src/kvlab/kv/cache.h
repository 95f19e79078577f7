// KvCache: the caller-owned key/value store of one stream.
//
// Per (layer, kv_head) the cache holds a list of *slots*. A slot carries one key and one value vector and
// the original position of the token it came from (llama.cpp's "cells" idea: slot index != position).
// Keys are stored after RoPE. Compression policies remove slots with Keep() (stable compaction inside
// a fixed allocation, so no reallocation per token) and the attention kernels read the live slots as
// contiguous arrays, so attention over a compressed cache is the same dense loop as over a full one.
// Different heads of one layer may hold different numbers of slots (per-head budgets).
//
// Quantized caches (KvCodec, kv/codec.h; docs/POLICIES.md "Quantization"): the slots of a head are split
// into an encoded prefix [0, QuantizedSlots) held as codes + scales, and an f32 suffix of at most
// `residual` newest slots. Append encodes the oldest f32 slot once the residual window is full, so the
// encoded slots are always the oldest ones and both parts stay contiguous through Keep. Such a cache has
// no f32 array covering every slot: Keys()/Values() are for plain caches only (checked); policies that read
// key vectors use KeyRow/ValueRow, attention uses Quantized() (kv/attention_quant.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "kvlab/kv/cache_shape.h"
#include "kvlab/kv/channel_key_blocks.h"
#include "kvlab/kv/codec.h"
#include "kvlab/ops/slot_meta.h"
#include "kvlab/util/error.h"
#include "kvlab/util/huge_pages.h"

namespace kvlab {

// The live slots of one head of a quantized cache: slots [0, n_quant) encoded, [n_quant, n) in f32.
struct QuantizedHead {
  const uint8_t* key_codes = nullptr;    // [n_quant][key_row_bytes] (codes only when keys are per channel)
  const uint8_t* value_codes = nullptr;  // [n_quant][value_row_bytes]
  size_t key_row_bytes = 0, value_row_bytes = 0;
  CodecType k = CodecType::kF32, v = CodecType::kF32;
  size_t group = 0;
  size_t n_quant = 0;
  // Per-channel keys (KeyAxis::kChannel): slot j decodes with block key_block_of[j] of key_block_params.
  bool key_per_channel = false;
  const float* key_block_params = nullptr;  // [blocks][2][head_dim] scale row, min row
  const uint32_t* key_block_of = nullptr;   // [n_quant]
  const float* residual_keys = nullptr;    // [n - n_quant][head_dim]
  const float* residual_values = nullptr;  // [n - n_quant][head_dim]
};

// Told of every Merge, with the positions of both slots: a measurement (tasks/needle_retention.h) follows
// which tokens ended up inside which summary slot, something SlotMeta does not keep.
class KvMergeObserver {
 public:
  virtual ~KvMergeObserver() = default;
  virtual void OnMerge(size_t layer, size_t head, int32_t into_pos, int32_t from_pos) = 0;
};

class KvCache {
 public:
  // capacity: slots per (layer, kv_head). Allocates the whole store once. An all-f32 codec (the default)
  // is the plain cache.
  KvCache(const KvCacheShape& shape, size_t capacity, const KvCodec& codec = {});

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

  const KvCodec& codec() const { return codec_; }
  bool quantized() const { return quantized_; }

  // Live slots of one head, contiguous: keys/values [Size][head_dim], meta [Size]. Plain caches only
  // (checked once per call, never per slot).
  const float* Keys(size_t layer, size_t head) const {
    KVLAB_CHECK(!quantized_);
    return keys_.data() + Offset(layer, head);
  }
  const float* Values(size_t layer, size_t head) const {
    KVLAB_CHECK(!quantized_);
    return values_.data() + Offset(layer, head);
  }
  float* MutableKeys(size_t layer, size_t head) {
    KVLAB_CHECK(!quantized_);
    return keys_.data() + Offset(layer, head);
  }
  float* MutableValues(size_t layer, size_t head) {
    KVLAB_CHECK(!quantized_);
    return values_.data() + Offset(layer, head);
  }
  // One slot's key / value as f32, for any codec: a pointer into the cache for f32 rows, else the row
  // decoded into scratch[head_dim]. What policies that look at key vectors use.
  const float* KeyRow(size_t layer, size_t head, size_t slot, float* scratch) const;
  const float* ValueRow(size_t layer, size_t head, size_t slot, float* scratch) const;
  // Quantized caches only (checked): the encoded prefix and f32 suffix of one head.
  QuantizedHead Quantized(size_t layer, size_t head) const;
  // Encoded slots of one head (0 for a plain cache).
  size_t QuantizedSlots(size_t layer, size_t head) const { return quantized_ ? n_quant_[Index(layer, head)] : 0; }
  std::span<const SlotMeta> Meta(size_t layer, size_t head) const {
    return {meta_.data() + MetaStart(Index(layer, head)), Size(layer, head)};
  }
  std::span<SlotMeta> MutableMeta(size_t layer, size_t head) {
    return {meta_.data() + MetaStart(Index(layer, head)), Size(layer, head)};
  }

  // A hint: slots [first, first + count) of one head (their metadata, and their f32 key and value rows) will
  // be written or moved soon, so their cache lines start loading now, for writing. Encoded rows are not
  // prefetched.
  void Prefetch(size_t layer, size_t head, size_t first, size_t count) const;
  // Keeps only the given slots (strictly ascending indices), compacting them to the front in order.
  void Keep(size_t layer, size_t head, std::span<const uint32_t> slots);
  // The same, with the caller's scratch for the complement instead of the cache's own, so that different
  // heads of an f32 cache can be kept from different threads at once (a quantized cache still uses its own
  // scratch for its key blocks and encoded rows: one thread at a time).
  void Keep(size_t layer, size_t head, std::span<const uint32_t> slots, std::vector<uint32_t>& scratch);
  // Removes the given slots (strictly ascending indices); the others keep their order. The same as Keep with
  // the complement, in time proportional to the dropped slots and the rows moved rather than to the head.
  void Drop(size_t layer, size_t head, std::span<const uint32_t> slots);
  // Folds slot `from` into slot `into` (summary slots, docs/POLICIES.md): `into` becomes the count-weighted
  // mean of both keys and both values and its count the sum; its position stays (a summary keeps the
  // position of the token that founded it, so positions stay unique and ascending without moving slots).
  // `from` is left as it is: the caller drops it with Keep, so a batch of merges costs one compaction.
  // Attention then adds log(count) to a summary slot's logit (ops/attention.h). Preconditions (checked):
  // both slots live, into != from.
  void Merge(size_t layer, size_t head, uint32_t into, uint32_t from);
  // Tells `observer` (not owned; null: nobody) of every later Merge.
  void SetMergeObserver(KvMergeObserver* observer) { merge_observer_ = observer; }
  bool has_merge_observer() const { return merge_observer_ != nullptr; }
  void Clear();

  // Exact bytes held by live slots: keys + values (codes + scales for encoded slots, f32 for the others)
  // + slot metadata.
  size_t Bytes() const;
  // Bytes allocated for the whole capacity.
  size_t AllocatedBytes() const;
  // The big row stores (f32 keys and values, key and value codes), empty ones left out: what a decode
  // step streams. `kvlab bench` measures its bandwidth bound on these same pages (eval/membw.h).
  std::vector<std::span<const std::byte>> RowStores() const;

 private:
  size_t Index(size_t layer, size_t head) const { return layer * n_kv_heads_ + head; }
  // First live f32 row of one head (all slots of a plain cache, the residual window of a quantized one).
  size_t Offset(size_t layer, size_t head) const {
    const size_t idx = Index(layer, head);
    return (idx * f32_slots_ + begin_[idx]) * head_dim_;
  }
  size_t MetaStart(size_t idx) const { return idx * capacity_ + begin_[idx]; }
  // Moves a plain cache head's live slots back to the start of its region (when appends reach the end).
  void Recenter(size_t idx);
  // Moves `count` consecutive live slots of a plain-cache head from index `from` to `to` (keys, values and
  // metadata; the ranges may overlap).
  void MoveF32Slots(size_t layer, size_t head, size_t to, size_t from, size_t count);
  // The slots in [0, n) not in `slots` (strictly ascending and < n: checked), into out.
  static std::span<const uint32_t> ComplementOf(size_t n, std::span<const uint32_t> slots,
                                                std::vector<uint32_t>& out);
  // Plain-cache eviction that moves whichever side of the holes holds fewer kept slots (Keep of an f32 cache
  // is DropF32 of the complement).
  void DropF32(size_t layer, size_t head, std::span<const uint32_t> slots);
  void AppendQuantized(size_t layer, const float* k, const float* v);
  void KeepQuantized(size_t layer, size_t head, std::span<const uint32_t> slots);
  void MergeQuantized(size_t layer, size_t head, uint32_t into, uint32_t from, float wa, float wb);

  size_t n_layers_, n_kv_heads_, head_dim_, capacity_;
  KvCodec codec_;
  bool quantized_;
  size_t f32_slots_;                 // f32 rows per head: capacity_, or the residual window when quantized
  size_t key_row_bytes_ = 0, value_row_bytes_ = 0;
  // The bulk of the cache: huge pages where the kernel allows (util/huge_pages.h).
  std::vector<float, HugePageAllocator<float>> keys_;          // [layers][kv_heads][f32_slots][head_dim]
  std::vector<float, HugePageAllocator<float>> values_;        // [layers][kv_heads][f32_slots][head_dim]
  std::vector<uint8_t, HugePageAllocator<uint8_t>> key_codes_;   // quantized: [layers][kv_heads][capacity][key_row_bytes]
  std::vector<uint8_t, HugePageAllocator<uint8_t>> value_codes_; // quantized: [layers][kv_heads][capacity][value_row_bytes]
  std::vector<uint32_t> n_quant_;    // quantized: [layers][kv_heads] encoded prefix length
  std::vector<float> merge_scratch_; // quantized: [4][head_dim] for Merge
  std::vector<uint32_t> index_scratch_;  // the complement, for Keep and Drop without a caller's scratch
  KvMergeObserver* merge_observer_ = nullptr;
  bool key_per_channel_ = false;     // codec_.key_axis == kChannel with integer keys
  ChannelKeyBlocks key_blocks_;      // per-channel keys: block parameters per (layer, kv_head)
  std::vector<uint32_t> key_block_of_;  // per-channel keys: [layers][kv_heads][capacity] block id of each encoded slot
  std::vector<SlotMeta> meta_;   // [layers][kv_heads][capacity]
  std::vector<uint32_t> size_;   // [layers][kv_heads] live slots
  // [layers][kv_heads] index of the first live slot inside the head's region (plain caches only; 0 when
  // quantized). Evicting old slots then moves the few slots before them instead of all slots after them.
  std::vector<uint32_t> begin_;
};

}  // namespace kvlab
