// ChannelKeyBlocks: KIVI's per-channel key quantization for the encoded slots of one KvCache.
//
// KIVI (Liu et al., "KIVI: A Tuning-Free Asymmetric 2bit Quantization for KV Cache", ICML 2024) observed
// that keys have outlier *channels* (a few dimensions much larger than the rest, for every token), so a
// scale per token wastes the codes of every ordinary channel on the outlier's range. It groups keys per
// channel across a block of `group` consecutive tokens instead: every channel of the block gets its own
// (scale, min), and a token's key is stored as codes only.
//
// Here a block is born when `group` tokens leave the f32 residual window together (KvCache::Append).
// Eviction may later drop some of its tokens; the survivors keep decoding with the block's parameters (a
// code never needs re-encoding when a neighbour leaves), so each encoded slot records its block id and a
// block lives while at least one slot refers to it. Block parameters of dead blocks are recycled through
// a free list. A summary slot (Merge) gets a block of its own with scale 0, i.e. its merged key exactly.
//
// Storage per (layer, kv head), allocated once for `capacity` blocks (the most that can be alive: every
// live block has at least one encoded slot):
//   params  [capacity][2][head_dim] f32   scale row, then min row
//   refs    [capacity]              u32   encoded slots that use the block
//   free    [capacity]              u32   stack of unused block ids
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "kvlab/kv/codec.h"

namespace kvlab {

class ChannelKeyBlocks {
 public:
  ChannelKeyBlocks() = default;
  ChannelKeyBlocks(size_t heads, size_t capacity, size_t head_dim, CodecType type);
  // Copies hold the same blocks (a KvCache is copyable, e.g. to fork a stream).
  ChannelKeyBlocks(const ChannelKeyBlocks& other);
  ChannelKeyBlocks& operator=(const ChannelKeyBlocks& other);
  ChannelKeyBlocks(ChannelKeyBlocks&&) noexcept = default;
  ChannelKeyBlocks& operator=(ChannelKeyBlocks&&) noexcept = default;

  // Bytes of one slot's codes (no scales: they live in the block).
  size_t code_bytes() const { return code_bytes_; }

  // Encodes rows [n][head_dim] (n >= 1) of head `head` as one new block: per channel scale and min over
  // the n rows, codes written to codes_out [n][code_bytes]; the block id goes to ids_out[0..n).
  void EncodeBlock(size_t head, const float* rows, size_t n, uint8_t* codes_out, uint32_t* ids_out);
  // A block holding one exact row (scale 0): for a merged summary slot. Writes its codes and id.
  void EncodeExact(size_t head, const float* row, uint8_t* codes_out, uint32_t* id_out);
  // The slot with this block id is gone (evicted or overwritten).
  void Release(size_t head, uint32_t id);
  void Clear();

  // [2][head_dim]: scale row then min row of one block.
  const float* Params(size_t head, uint32_t id) const { return params_.get() + (head * capacity_ + id) * 2 * head_dim_; }
  const float* HeadParams(size_t head) const { return params_.get() + head * capacity_ * 2 * head_dim_; }
  void Decode(size_t head, uint32_t id, const uint8_t* codes, float* out) const;

  // Exact bytes of live block parameters over all heads (the codes and ids are counted by the cache).
  size_t LiveBytes() const { return live_ * 2 * head_dim_ * sizeof(float); }
  size_t AllocatedBytes() const { return heads_ * capacity_ * (2 * head_dim_ * sizeof(float) + 2 * sizeof(uint32_t)); }

 private:
  uint32_t Allocate(size_t head);

  size_t heads_ = 0, capacity_ = 0, head_dim_ = 0, code_bytes_ = 0;
  CodecType type_ = CodecType::kInt8;
  int bits_ = 8;
  // Not value-initialized: a cache sized for a long context would otherwise touch (and make resident) a
  // table it may never fill. Entries are written before they are read.
  std::unique_ptr<float[]> params_;  // [heads][capacity][2][head_dim]
  std::vector<uint32_t> refs_;       // [heads][capacity]
  std::vector<uint32_t> free_;       // [heads][capacity] per-head stack of free ids
  std::vector<uint32_t> n_free_;     // [heads]
  size_t live_ = 0;                  // live blocks over all heads
};

// dot(decode(codes), q) for per-channel blocks, rewritten as qm + Σ_c (q_c·scale_c)·code_c: the caller
// computes qs = q ⊙ scale and qm = q·min once per block, and this is the per-slot part.
float ChannelCodeDot(CodecType type, const uint8_t* codes, const float* qs, size_t n);
// The same for `count` consecutive rows of codes `row_bytes` apart (the slots of one block): out[j] for
// row j. AVX-512 kernels for head_dim 64 / 128 (int4 also 32 / 96), ChannelCodeDot row by row otherwise.
void ChannelCodeDotRows(CodecType type, const uint8_t* codes, size_t row_bytes, size_t count, const float* qs,
                        size_t n, float* out);

}  // namespace kvlab
