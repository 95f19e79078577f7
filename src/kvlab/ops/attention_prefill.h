// Causal attention of a tile of prefill queries at once, as two products with the GEMM tile kernels
// (ops/gemm_kernels.h) instead of one query at a time: the per-query kernels (ops/attention.h) read every
// key and value again for each query, so a prefill's attention ran at a twentieth of the multiply-add rate
// of its projections and took a quarter of a 512-token prefill.
//
// For up to kGemmTokens consecutive queries of one head:
//   S^T[slot][token] = K · Q^T        (the keys are the tile's rows, the queries its token lanes)
//   scale, mask (slots after a query's position or before its window; summary slots + log(count)), and
//   exponentiate per token lane against its maximum
//   O^T[dim][token]  = V^T · P^T      (the values read as the rows of V^T), divided by each token's sum
// The result is AttendHead's for each query to float rounding; the probabilities are not kept, so this is
// for prefill without an observing policy, on an f32 cache, without a logit soft-cap.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kvlab/ops/slot_meta.h"

namespace kvlab::kernels {

struct QueryTile {
  const float* q = nullptr;  // query i at q + i * q_stride, head_dim values
  size_t q_stride = 0;
  size_t count = 0;       // queries, at most kGemmTokens
  int32_t first_pos = 0;  // query i sits at position first_pos + i
  float* out = nullptr;   // output i at out + i * out_stride, head_dim values
  size_t out_stride = 0;
};

struct KvHeadView {
  const float* keys = nullptr;     // [n][head_dim]
  const float* values = nullptr;   // [n][head_dim]
  const SlotMeta* meta = nullptr;  // [n], in position order
  size_t n = 0;
  size_t head_dim = 0;
  int32_t window = 0;  // sliding window in positions (0: none)
};

void AttendQueryTileAvx512(const QueryTile& tile, const KvHeadView& kv, float scale);

}  // namespace kvlab::kernels
