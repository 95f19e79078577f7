// Inline pieces shared by the AVX-512 codec kernels (include only from *_avx512.cc files, which are built
// with the AVX-512 flags).
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "kvlab/ops/avx512_inline.h"

namespace kvlab::kernels {

// The rows of one head are one stream; the kernels request rows this far ahead (2-5 KB at head_dim 64).
// 16 rows had been enough while the kernels were bound by arithmetic; once they were not, 64 made the
// int8 / int4 caches' attention 9-10% faster at depth 4096 (interleaved A/B; 128 was no better).
constexpr size_t kRowsAhead = 64;

// out[j] = the dot of row j, for `count` rows: row_dot(row, &min_term) returns a row's 16 partial sums
// (already scaled) and sets its per-group minimum term. 16 rows at a time share one reduction
// (FoldQuad / FoldQuads) instead of one horizontal sum per row; rows kRowsAhead ahead are requested.
template <typename RowDot>
inline void BatchedRowDots(const uint8_t* rows, size_t row_bytes, size_t count, float* out,
                           RowDot&& row_dot) {
  size_t j = 0;
  for (; j + 16 <= count; j += 16) {
    const uint8_t* r = rows + j * row_bytes;
    for (size_t b = 0; b < 16 * row_bytes; b += 64) {
      _mm_prefetch(reinterpret_cast<const char*>(r + kRowsAhead * row_bytes + b), _MM_HINT_T0);
    }
    alignas(64) float min_terms[16];
    __m512 quad[4];
    for (size_t k = 0; k < 4; ++k) {
      const uint8_t* r4 = r + 4 * k * row_bytes;
      const __m512 a0 = row_dot(r4, &min_terms[4 * k]);
      const __m512 a1 = row_dot(r4 + row_bytes, &min_terms[4 * k + 1]);
      const __m512 a2 = row_dot(r4 + 2 * row_bytes, &min_terms[4 * k + 2]);
      const __m512 a3 = row_dot(r4 + 3 * row_bytes, &min_terms[4 * k + 3]);
      quad[k] = FoldQuad(a0, a1, a2, a3);
    }
    const __m512 dots = FoldQuads(quad[0], quad[1], quad[2], quad[3]);
    _mm512_storeu_ps(out + j, _mm512_add_ps(dots, _mm512_load_ps(min_terms)));
  }
  for (; j < count; ++j) {
    float min_term;
    const __m512 acc = row_dot(rows + j * row_bytes, &min_term);
    out[j] = _mm512_reduce_add_ps(acc) + min_term;
  }
}

}  // namespace kvlab::kernels
