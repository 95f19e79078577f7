// AVX-512 ToStoredBatch: 16 weights per iteration. The conversion to stored units is the scalar one lane by
// lane (float -> double, multiply, round to float), and the four partial sums are one vector of 4 doubles
// whose lane j adds the weights i ≡ j (mod 4) in order of i, as the scalar loop does: the same bits.
#include <immintrin.h>

#include <limits>

#include "kvlab/sketch/counter_matrix.h"

namespace kvlab {

namespace {
// Stored units of 8 weights.
__m256 ToStored8(__m256 w, __m512d inv_scale) {
  return _mm512_cvtpd_ps(_mm512_mul_pd(_mm512_cvtps_pd(w), inv_scale));
}
}  // namespace

bool ToStoredBatchAvx512(const float* weights, size_t n, float floor, double inv_scale, float* stored,
                         double (&sums)[4]) {
  const __m512 lo = _mm512_set1_ps(floor), hi = _mm512_set1_ps(std::numeric_limits<float>::max());
  const __m512d scale = _mm512_set1_pd(inv_scale);
  __m256d acc = _mm256_loadu_pd(sums);
  __mmask16 valid = 0xffff;
  for (size_t i = 0; i < n; i += 16) {
    const size_t count = n - i < 16 ? n - i : 16;
    const __mmask16 m = count == 16 ? __mmask16{0xffff} : static_cast<__mmask16>((1u << count) - 1u);
    const __m512 w = _mm512_maskz_loadu_ps(m, weights + i);
    // Ordered comparisons: NaN fails both. Lanes past the end are 0, which passes for any floor <= 0.
    valid &= _mm512_cmp_ps_mask(w, lo, _CMP_GE_OQ) & _mm512_cmp_ps_mask(w, hi, _CMP_LE_OQ);
    const __m256 w0 = _mm512_castps512_ps256(w);
    const __m256 w1 = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(w), 1));
    const __m512 out =
        _mm512_insertf32x8(_mm512_castps256_ps512(ToStored8(w0, scale)), ToStored8(w1, scale), 1);
    _mm512_mask_storeu_ps(stored + i, m, out);
    // The weights as doubles, 4 at a time, added in order; masked lanes past the end add nothing.
    const __m512d d0 = _mm512_cvtps_pd(w0), d1 = _mm512_cvtps_pd(w1);
    const __m256d quads[4] = {_mm512_castpd512_pd256(d0), _mm512_extractf64x4_pd(d0, 1),
                              _mm512_castpd512_pd256(d1), _mm512_extractf64x4_pd(d1, 1)};
    for (size_t q = 0; q < 4 && 4 * q < count; ++q) {
      const size_t left = count - 4 * q;
      const __mmask8 qm = left >= 4 ? __mmask8{0xf} : static_cast<__mmask8>((1u << left) - 1u);
      acc = _mm256_mask_add_pd(acc, qm, acc, quads[q]);
    }
  }
  _mm256_storeu_pd(sums, acc);
  return valid == 0xffff;
}

}  // namespace kvlab
