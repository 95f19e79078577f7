// Attention of one query head over a quantized cache head (kv/cache.h QuantizedHead): encoded slots are
// read through the codec's dot / axpy kernels inside the loop, slot by slot, so no decoded copy of the
// cache is ever made; the f32 residual window goes through the same f32 kernels as AttendHead. The plain
// AttendHead (ops/attention.h) is untouched, so f32 caches keep their exact results and speed.
// It lives in kv/, not ops/, because it reads kv's storage: the codec kernels (kv/codec.h), per-channel
// key blocks and QuantizedHead. It calls down into ops/ for the softmax and the f32 kernels.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "kvlab/kv/cache.h"

namespace kvlab {

// Same contract as AttendHead (causal mask, log(count) for summary slots, scores left holding the
// probabilities, softcap), over head.n_quant encoded slots followed by meta.size() - head.n_quant f32 slots.
void AttendHeadQuantized(const float* q, const QuantizedHead& head, std::span<const SlotMeta> meta,
                         size_t head_dim, float scale, int32_t query_pos, float* scores, float* out,
                         float softcap = 0.0f);

}  // namespace kvlab
