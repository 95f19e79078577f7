#include "kvlab/ops/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "kvlab/ops/attention_stream.h"
#include "kvlab/ops/cpu_features.h"
#include "kvlab/ops/dot_kernels.h"
#include "kvlab/ops/exp_kernels.h"

namespace kvlab {

namespace {
// Two-pass path (short heads): keys are read kStretch slots at a time, with the values of heads up to
// kValuesPrefetchBytes requested alongside.
constexpr size_t kStretch = 32;
constexpr size_t kValuesPrefetchBytes = size_t{256} << 10;
// Blocked path (AttendHeadBlocked): slots per block, and how many key rows of the next block to request.
constexpr size_t kBlock = 128;
constexpr size_t kNextKeyRows = 32;
constexpr size_t kMaxBlocks = 1024;
constexpr size_t kMaxHeadDim = 1024;

// Logits in place: scale, mask slots after query_pos to -inf (probability exactly 0 after exp), add
// log(count) for summary slots. Returns the largest logit (-inf when every slot is masked).
float ScaleAndMask(float* scores, std::span<const SlotMeta> meta, float scale, int32_t query_pos) {
  const size_t n = meta.size();
  // The compiler does not vectorize the loop below (a float max and the pos/count pairs): with AVX-512
  // it was ~2.5% of an int4-cache decode step at depth 4096.
  if (ActiveSimdLevel() == SimdLevel::kAvx512) {
    return kernels::ScaleAndMaskAvx512(scores, meta.data(), n, scale, query_pos);
  }
  constexpr float kMasked = -std::numeric_limits<float>::infinity();
  // Summary slots (rare: merging policies only) get their log(count) in a second pass that runs only
  // when there is one.
  float max_score = kMasked;
  bool any_summary = false;
  for (size_t j = 0; j < n; ++j) {
    const float s = meta[j].pos > query_pos ? kMasked : scores[j] * scale;
    scores[j] = s;
    max_score = std::max(max_score, s);
    any_summary |= meta[j].count != 1;
  }
  if (any_summary) {
    for (size_t j = 0; j < n; ++j) {
      if (meta[j].count == 1 || meta[j].pos > query_pos) continue;
      scores[j] += std::log(static_cast<float>(meta[j].count));
      max_score = std::max(max_score, scores[j]);
    }
  }
  return max_score;
}
}  // namespace

bool CausalSoftmax(float* scores, std::span<const SlotMeta> meta, float scale, int32_t query_pos,
                   float softcap) {
  if (softcap > 0) {  // cap the scaled logits, then mask and softmax them unscaled
    for (size_t j = 0; j < meta.size(); ++j) scores[j] = softcap * std::tanh(scores[j] * scale / softcap);
    scale = 1.0f;
  }
  const float max_score = ScaleAndMask(scores, meta, scale, query_pos);
  if (max_score == -std::numeric_limits<float>::infinity()) {  // every probability 0, as on the other paths
    std::fill(scores, scores + meta.size(), 0.0f);
    return false;
  }
  const size_t n = meta.size();
  const float inv = 1.0f / kernels::ExpShiftSumKernel()(scores, n, max_score);
  for (size_t j = 0; j < n; ++j) scores[j] *= inv;
  return true;
}

namespace {
// One pass over the cache in blocks of kBlock slots with a running softmax (as flash-decoding does): each
// block's keys, then its values while they are still in cache, the output rescaled whenever the running
// maximum grows. Keys and values then stream together instead of in two separate passes with the softmax
// in between, when nothing is read from memory. scores ends as exact probabilities for observers.
void AttendHeadBlocked(const float* q, const float* keys, const float* values, std::span<const SlotMeta> meta,
                       size_t head_dim, float scale, int32_t query_pos, float* scores, float* out) {
  const size_t n = meta.size();
  const kernels::DotRowsFn dot_rows = kernels::DotRowsKernel();
  const kernels::ExpShiftSumFn exp_sum = kernels::ExpShiftSumKernel();
  const kernels::WeightedRowSumFn weighted_sum = kernels::WeightedRowSumKernel();
  const size_t row_bytes = head_dim * sizeof(float);
  float block_out[kMaxHeadDim];
  float block_max[kMaxBlocks];  // the running maximum each block's exp() was taken against
  float running_max = -std::numeric_limits<float>::infinity(), sum = 0;
  std::fill(out, out + head_dim, 0.0f);
  for (size_t b = 0, j0 = 0; j0 < n; ++b, j0 += kBlock) {
    const size_t m = std::min(kBlock, n - j0);
    // This block's values, requested while its keys are read (measured at context 1024, bf16 weights:
    // attention 2.3 -> 1.9 ms per token against the two-pass path, with the next-keys prefetch below).
    const char* v = reinterpret_cast<const char*>(values + j0 * head_dim);
    for (size_t off = 0; off < m * row_bytes; off += 64) __builtin_prefetch(v + off, 0, 3);
    // And the next block's first keys: the key kernel's own prefetch stops at the end of this block.
    if (j0 + kBlock < n) {
      const char* next_keys = reinterpret_cast<const char*>(keys + (j0 + kBlock) * head_dim);
      for (size_t off = 0; off < kNextKeyRows * row_bytes; off += 64) __builtin_prefetch(next_keys + off, 0, 3);
    }
    float* s = scores + j0;
    dot_rows(keys + j0 * head_dim, head_dim, m, q, head_dim, s);
    const float new_max = std::max(running_max, ScaleAndMask(s, meta.subspan(j0, m), scale, query_pos));
    block_max[b] = new_max;
    if (new_max == -std::numeric_limits<float>::infinity()) {  // nothing visible yet: probabilities 0
      std::fill(s, s + m, 0.0f);
      continue;
    }
    const float rescale = std::exp(running_max - new_max);  // 0 while running_max is still -inf
    sum = sum * rescale + exp_sum(s, m, new_max);
    weighted_sum(values + j0 * head_dim, head_dim, m, s, head_dim, block_out);
    for (size_t i = 0; i < head_dim; ++i) out[i] = out[i] * rescale + block_out[i];
    running_max = new_max;
  }
  if (sum == 0) {  // no visible slot
    std::fill(out, out + head_dim, 0.0f);
    return;
  }
  const float inv = 1.0f / sum;
  for (size_t i = 0; i < head_dim; ++i) out[i] *= inv;
  for (size_t b = 0, j0 = 0; j0 < n; ++b, j0 += kBlock) {
    const size_t m = std::min(kBlock, n - j0);
    const float f = block_max[b] == -std::numeric_limits<float>::infinity() ? 0.0f : std::exp(block_max[b] - running_max) * inv;
    for (size_t j = j0; j < j0 + m; ++j) scores[j] *= f;
  }
}
}  // namespace

void AttendHead(const float* q, const float* keys, const float* values, std::span<const SlotMeta> meta,
                size_t head_dim, float scale, int32_t query_pos, float* scores, float* out, KvReuse reuse,
                float softcap) {
  const size_t n = meta.size();
  // AVX-512 and a head size it keeps in registers: one pass in 16-slot blocks (ops/attention_stream_avx512.cc).
  if (softcap == 0 && ActiveSimdLevel() == SimdLevel::kAvx512 &&
      kernels::AttendHeadStreamAvx512(q, keys, values, meta.data(), n, head_dim, scale, query_pos, scores, out,
                                      reuse == KvReuse::kOnce)) {
    return;
  }
  if (softcap == 0 && n > 2 * kBlock && n <= kBlock * kMaxBlocks && head_dim <= kMaxHeadDim) {
    AttendHeadBlocked(q, keys, values, meta, head_dim, scale, query_pos, scores, out);
    return;
  }
  // Two passes (short heads, or beyond the blocked path's limits): scores for every slot (keys are
  // contiguous) in stretches of kStretch slots, each stretch also requesting its values when the head's
  // values fit in L2, so both streams are in flight at once and the value pass finds them in cache.
  const kernels::DotRowsFn dot_rows = kernels::DotRowsKernel();
  const size_t row_bytes = head_dim * sizeof(float);
  const bool fetch_values = n * row_bytes <= kValuesPrefetchBytes;
  for (size_t j0 = 0; j0 < n; j0 += kStretch) {
    const size_t m = std::min(kStretch, n - j0);
    if (fetch_values) {
      const char* v = reinterpret_cast<const char*>(values + j0 * head_dim);
      for (size_t b = 0; b < m * row_bytes; b += 64) __builtin_prefetch(v + b, 0, 3);
    }
    dot_rows(keys + j0 * head_dim, head_dim, m, q, head_dim, scores + j0);
  }
  if (!CausalSoftmax(scores, meta, scale, query_pos, softcap)) {
    std::memset(out, 0, head_dim * sizeof(float));
    return;
  }
  kernels::WeightedRowSumKernel()(values, head_dim, n, scores, head_dim, out);
}

}  // namespace kvlab
