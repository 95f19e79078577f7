#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "kvlab/ops/attention_prefill.h"
#include "kvlab/ops/avx512_inline.h"
#include "kvlab/ops/gemm_kernels.h"
#include "kvlab/util/aligned_scratch.h"

namespace kvlab::kernels {

namespace {
constexpr size_t kLanes = 16;

// Per thread, grown as needed: the queries transposed [head_dim][kGemmTokens], the scores and then the
// probabilities transposed [slots][kGemmTokens], the output transposed [head_dim][kGemmTokens].
thread_local std::vector<float> t_queries, t_scores, t_output;
}  // namespace

void AttendQueryTileAvx512(const QueryTile& tile, const KvHeadView& kv, float scale) {
  const size_t d = kv.head_dim, count = tile.count;
  const int32_t last_pos = tile.first_pos + static_cast<int32_t>(count) - 1;
  // Slots any query of the tile may see: from the first query's window start to the last one at or before
  // the last query (the cache keeps slots in position order).
  size_t begin = 0, end = kv.n;
  if (kv.window > 0) {
    const int32_t oldest = tile.first_pos - kv.window + 1;
    begin = static_cast<size_t>(std::partition_point(kv.meta, kv.meta + kv.n,
                                                     [oldest](const SlotMeta& m) { return m.pos < oldest; }) -
                                kv.meta);
  }
  while (end > begin && kv.meta[end - 1].pos > last_pos) --end;
  const size_t m = end - begin;
  if (m == 0) {
    for (size_t i = 0; i < count; ++i) std::memset(tile.out + i * tile.out_stride, 0, d * sizeof(float));
    return;
  }
  float* qt = AlignedScratch(t_queries, d * kGemmTokens);
  float* st = AlignedScratch(t_scores, m * kGemmTokens);
  float* ot = AlignedScratch(t_output, d * kGemmTokens);
  PackTokensAvx512(tile.q, tile.q_stride, count, d, qt);
  const float* keys = kv.keys + begin * d;
  for (size_t j = 0; j < m; j += kGemmRows) {
    GemmTileF32Avx512(keys + j * d, d, std::min(kGemmRows, m - j), qt, d, count, st + j * kGemmTokens);
  }

  // Softmax down each token lane, 16 tokens per vector.
  const SlotMeta* meta = kv.meta + begin;
  const size_t vectors = (count + kLanes - 1) / kLanes;
  alignas(64) float inv_sum[kGemmTokens];
  const __m512 minus_inf = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  for (size_t v = 0; v < vectors; ++v) {
    const __m512i pos =
        _mm512_add_epi32(_mm512_set1_epi32(tile.first_pos + static_cast<int32_t>(kLanes * v)),
                         _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
    const __m512i oldest = kv.window > 0 ? _mm512_sub_epi32(pos, _mm512_set1_epi32(kv.window - 1))
                                         : _mm512_set1_epi32(std::numeric_limits<int32_t>::min());
    __m512 max = minus_inf;
    for (size_t j = 0; j < m; ++j) {
      float* s = st + j * kGemmTokens + kLanes * v;
      const __m512i slot_pos = _mm512_set1_epi32(meta[j].pos);
      const __mmask16 visible =
          _mm512_cmple_epi32_mask(slot_pos, pos) & _mm512_cmpge_epi32_mask(slot_pos, oldest);
      __m512 logit = _mm512_mul_ps(_mm512_load_ps(s), _mm512_set1_ps(scale));
      if (meta[j].count != 1)
        logit = _mm512_add_ps(logit, _mm512_set1_ps(std::log(static_cast<float>(meta[j].count))));
      logit = _mm512_mask_blend_ps(visible, minus_inf, logit);
      _mm512_store_ps(s, logit);
      max = _mm512_max_ps(max, logit);
    }
    // A token that sees no slot gets probabilities 0 and output 0, as on the per-query paths.
    const __mmask16 none = _mm512_cmp_ps_mask(max, minus_inf, _CMP_EQ_OQ);
    max = _mm512_mask_blend_ps(none, max, _mm512_setzero_ps());
    __m512 sum = _mm512_setzero_ps();
    for (size_t j = 0; j < m; ++j) {
      float* s = st + j * kGemmTokens + kLanes * v;
      const __m512 p = Exp(_mm512_sub_ps(_mm512_load_ps(s), max));  // masked: exactly 0
      _mm512_store_ps(s, p);
      sum = _mm512_add_ps(sum, p);
    }
    const __mmask16 positive = _mm512_cmp_ps_mask(sum, _mm512_setzero_ps(), _CMP_GT_OQ);
    _mm512_store_ps(inv_sum + kLanes * v, _mm512_maskz_div_ps(positive, _mm512_set1_ps(1.0f), sum));
  }

  const float* values = kv.values + begin * d;
  for (size_t c = 0; c < d; c += kGemmRows) {
    GemmTileF32StridedAvx512(values + c, 1, d, std::min(kGemmRows, d - c), st, m, count,
                             ot + c * kGemmTokens);
  }
  for (size_t c = 0; c < d; ++c) {
    for (size_t v = 0; v < vectors; ++v) {
      float* o = ot + c * kGemmTokens + kLanes * v;
      _mm512_store_ps(o, _mm512_mul_ps(_mm512_load_ps(o), _mm512_load_ps(inv_sum + kLanes * v)));
    }
  }
  StoreTileAvx512(ot, d, count, tile.out, tile.out_stride);
}

}  // namespace kvlab::kernels
