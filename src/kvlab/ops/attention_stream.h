// One-pass attention kernel for one head, by SIMD level (only AVX-512 has one; AttendHead in attention.h
// takes it when it applies and otherwise runs its portable blocked / two-pass paths), and the masking step
// of the two-pass softmax built from the same block code.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kvlab/ops/slot_meta.h"

namespace kvlab::kernels {

// Same contract as AttendHead (ops/attention.h) over meta[0, n): out[head_dim] and the probabilities left in
// scores[n]. Returns false, touching nothing, when the shape is not one it handles: head_dim must be a
// multiple of 16 up to 128 (the query and the output stay in registers), and n at most 65536.
// read_once: no other query head reads these keys and values right after (see KvReuse in attention.h).
bool AttendHeadStreamAvx512(const float* q, const float* keys, const float* values, const SlotMeta* meta, size_t n,
                            size_t head_dim, float scale, int32_t query_pos, float* scores, float* out,
                            bool read_once);

// The logits step of CausalSoftmax (ops/attention.h) over scores[n] in place, 16 slots at a time: scale,
// -inf for slots after query_pos, + log(count) for summary slots. Returns the largest logit (-inf when every
// slot is masked). The two-pass and quantized attention paths take it: their softmax runs on whole rows.
float ScaleAndMaskAvx512(float* scores, const SlotMeta* meta, size_t n, float scale, int32_t query_pos);

}  // namespace kvlab::kernels
