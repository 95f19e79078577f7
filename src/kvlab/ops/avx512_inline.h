// Small AVX-512 helpers shared by the *_avx512.cc kernels. Include only from files compiled with the
// AVX-512 flags (CMakeLists.txt gives them to *_avx512.cc), and only call from code the CPU check guards.
#pragma once

#include <immintrin.h>

#include <cstddef>

namespace kvlab::kernels {

// Lanes [0, min(remaining, 16)) set: masked loads and stores cover a tail without a scalar loop.
inline __mmask16 TailMask(size_t remaining) {
  return remaining >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << remaining) - 1u);
}

// exp(x) = 2^k · exp(r), k = round(x / ln2), r = x - k·ln2 (ln2 split in two so r is exact enough), and a
// degree-6 polynomial for exp(r) (Cephes' expf coefficients). scalef applies 2^k with correct overflow to
// inf and gradual underflow. The clamp keeps -inf from turning r into NaN (-inf - -inf) and still
// underflows to exactly 0; max/min return x itself when x is NaN.
inline __m512 Exp(__m512 x) {
  x = _mm512_min_ps(_mm512_set1_ps(100.0f), _mm512_max_ps(_mm512_set1_ps(-110.0f), x));
  const __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(k, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  const __m512 y = _mm512_add_ps(_mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r), _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(y, k);
}

// Sixteen rows' dot products from their lane-wise partial sums, with one combined reduction instead of a
// horizontal sum per row (about 3 shuffles and adds per row). FoldQuad turns 4 rows' vectors into one whose
// 128-bit lane j holds partial sums [r0 r1 r2 r3]; FoldQuads turns 4 such quads (rows 0-3, 4-7, 8-11,
// 12-15) into one vector whose lane j is row j's full sum.
inline __m512 FoldQuad(__m512 a0, __m512 a1, __m512 a2, __m512 a3) {
  // [a0_0+a0_2, a1_0+a1_2, a0_1+a0_3, a1_1+a1_3] per 128-bit lane, then the same for rows 2, 3.
  const __m512 b01 = _mm512_add_ps(_mm512_unpacklo_ps(a0, a1), _mm512_unpackhi_ps(a0, a1));
  const __m512 b23 = _mm512_add_ps(_mm512_unpacklo_ps(a2, a3), _mm512_unpackhi_ps(a2, a3));
  const __m512d lo = _mm512_unpacklo_pd(_mm512_castps_pd(b01), _mm512_castps_pd(b23));
  const __m512d hi = _mm512_unpackhi_pd(_mm512_castps_pd(b01), _mm512_castps_pd(b23));
  return _mm512_add_ps(_mm512_castpd_ps(lo), _mm512_castpd_ps(hi));
}
inline __m512 FoldQuads(__m512 c0, __m512 c1, __m512 c2, __m512 c3) {
  // Lanes (0,1) and (2,3) of c0,c1 (and c2,c3) added, then the remaining pairs: lane j = row j.
  const __m512 e01 = _mm512_add_ps(_mm512_shuffle_f32x4(c0, c1, 0x88), _mm512_shuffle_f32x4(c0, c1, 0xdd));
  const __m512 e23 = _mm512_add_ps(_mm512_shuffle_f32x4(c2, c3, 0x88), _mm512_shuffle_f32x4(c2, c3, 0xdd));
  return _mm512_add_ps(_mm512_shuffle_f32x4(e01, e23, 0x88), _mm512_shuffle_f32x4(e01, e23, 0xdd));
}
// partials[j]: row j's 16 lane-wise partial sums; lane j of the result is row j's full sum.
inline __m512 FoldSixteen(const __m512 (&partials)[16]) {
  const __m512* p = partials;
  return FoldQuads(FoldQuad(p[0], p[1], p[2], p[3]), FoldQuad(p[4], p[5], p[6], p[7]),
                   FoldQuad(p[8], p[9], p[10], p[11]), FoldQuad(p[12], p[13], p[14], p[15]));
}

}  // namespace kvlab::kernels
