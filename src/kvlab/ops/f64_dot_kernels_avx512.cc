// AVX-512 paths of f64_dot_kernels.h: one zmm of 8 doubles holds the 8 lanes; the tail of a row that is not
// a multiple of 8 goes into the lanes 0.. with a mask, as the scalar path adds it.
#include <immintrin.h>

#include "kvlab/ops/f64_dot_kernels.h"

namespace kvlab::kernels {

namespace {
static_assert(kF64Lanes == 8);

double SumLanes(__m512d v) {
  alignas(64) double lanes[8];
  _mm512_store_pd(lanes, v);
  double total = 0;
  for (double l : lanes) total += l;  // lane order, as the scalar path
  return total;
}

// 8 floats from p (the first `count` of them; the rest 0) as doubles.
__m512d LoadAsDouble(const float* p, size_t count) {
  const __mmask8 mask = count >= 8 ? __mmask8{0xff} : static_cast<__mmask8>((1u << count) - 1);
  return _mm512_cvtps_pd(_mm256_maskz_loadu_ps(mask, p));
}
}  // namespace

void DotsAndNormsF64Avx512(const float* x, const float* const* rows, size_t n_rows, size_t n, double* dot,
                           double* norm2) {
  for (size_t r = 0; r < n_rows; ++r) {
    const float* c = rows[r];
    __m512d d = _mm512_setzero_pd(), cc = _mm512_setzero_pd();
    for (size_t i = 0; i < n; i += 8) {
      const __m512d a = LoadAsDouble(x + i, n - i), b = LoadAsDouble(c + i, n - i);
      d = _mm512_fmadd_pd(a, b, d);  // a·b is exact in double: fused or not, the same sum
      cc = _mm512_fmadd_pd(b, b, cc);
    }
    dot[r] = SumLanes(d);
    norm2[r] = SumLanes(cc);
  }
}

void SquaredDistancesF64Avx512(const float* x, const float* const* rows, size_t n_rows, size_t n,
                               double* out) {
  for (size_t r = 0; r < n_rows; ++r) {
    const float* c = rows[r];
    __m512d s = _mm512_setzero_pd();
    for (size_t i = 0; i < n; i += 8) {
      const __m512d diff = _mm512_sub_pd(LoadAsDouble(x + i, n - i), LoadAsDouble(c + i, n - i));
      // diff² is not exact: it must be rounded before the add, as the scalar path does. The explicitly
      // rounded forms are builtins GCC never fuses into a multiply-add (plain _mm512_mul_pd/_add_pd are
      // vector arithmetic it may contract).
      constexpr int kNearest = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
      s = _mm512_add_round_pd(s, _mm512_mul_round_pd(diff, diff, kNearest), kNearest);
    }
    out[r] = SumLanes(s);
  }
}

}  // namespace kvlab::kernels
