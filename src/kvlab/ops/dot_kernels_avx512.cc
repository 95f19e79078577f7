// AVX-512 path of DotRows (compiled with -mavx512f...; only called when the CPU has them).
// Four rows per pass share each 16-float load of x; masked loads handle any tail without a scalar loop.
#include <immintrin.h>

#include "kvlab/ops/dot_kernels.h"

namespace kvlab::kernels {

namespace {
inline __mmask16 TailMask(size_t remaining) {
  return remaining >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << remaining) - 1u);
}
}  // namespace

void DotRowsAvx512(const float* w, size_t stride, size_t rows, const float* x, size_t n, float* out) {
  size_t r = 0;
  for (; r + 4 <= rows; r += 4) {
    const float* w0 = w + r * stride;
    const float* w1 = w0 + stride;
    const float* w2 = w1 + stride;
    const float* w3 = w2 + stride;
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(),
           a3 = _mm512_setzero_ps();
    // The next 4 rows are 4 new streams the hardware prefetcher has not seen yet; with short rows (768
    // floats) it would train too late for each of them, so fetch them ourselves one block ahead.
    const float* next = w0 + 4 * stride;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
      _mm_prefetch(reinterpret_cast<const char*>(next + i), _MM_HINT_T1);
      _mm_prefetch(reinterpret_cast<const char*>(next + stride + i), _MM_HINT_T1);
      _mm_prefetch(reinterpret_cast<const char*>(next + 2 * stride + i), _MM_HINT_T1);
      _mm_prefetch(reinterpret_cast<const char*>(next + 3 * stride + i), _MM_HINT_T1);
      const __m512 xv = _mm512_loadu_ps(x + i);
      a0 = _mm512_fmadd_ps(_mm512_loadu_ps(w0 + i), xv, a0);
      a1 = _mm512_fmadd_ps(_mm512_loadu_ps(w1 + i), xv, a1);
      a2 = _mm512_fmadd_ps(_mm512_loadu_ps(w2 + i), xv, a2);
      a3 = _mm512_fmadd_ps(_mm512_loadu_ps(w3 + i), xv, a3);
    }
    if (i < n) {
      const __mmask16 m = TailMask(n - i);
      const __m512 xv = _mm512_maskz_loadu_ps(m, x + i);
      a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w0 + i), xv, a0);
      a1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w1 + i), xv, a1);
      a2 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w2 + i), xv, a2);
      a3 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w3 + i), xv, a3);
    }
    out[r] = _mm512_reduce_add_ps(a0);
    out[r + 1] = _mm512_reduce_add_ps(a1);
    out[r + 2] = _mm512_reduce_add_ps(a2);
    out[r + 3] = _mm512_reduce_add_ps(a3);
  }
  for (; r < rows; ++r) {
    const float* row = w + r * stride;
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
      a0 = _mm512_fmadd_ps(_mm512_loadu_ps(row + i), _mm512_loadu_ps(x + i), a0);
      a1 = _mm512_fmadd_ps(_mm512_loadu_ps(row + i + 16), _mm512_loadu_ps(x + i + 16), a1);
    }
    for (; i < n; i += 16) {
      const __mmask16 m = TailMask(n - i);
      a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, row + i), _mm512_maskz_loadu_ps(m, x + i), a0);
    }
    out[r] = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
  }
}

// Up to 128 output columns live in 8 registers for the whole pass; wider heads go 128 columns at a time.
void WeightedRowSumAvx512(const float* v, size_t stride, size_t rows, const float* p, size_t n, float* out) {
  for (size_t c0 = 0; c0 < n; c0 += 128) {
    const size_t width = n - c0 < 128 ? n - c0 : 128;
    const size_t vecs = (width + 15) / 16;
    __m512 acc[8];
    __mmask16 mask[8];
    for (size_t k = 0; k < 8; ++k) {
      acc[k] = _mm512_setzero_ps();
      mask[k] = k < vecs ? TailMask(width - k * 16) : 0;
    }
    for (size_t j = 0; j < rows; ++j) {
      if (p[j] == 0.0f) continue;
      const __m512 w = _mm512_set1_ps(p[j]);
      const float* row = v + j * stride + c0;
      for (size_t k = 0; k < vecs; ++k) {
        acc[k] = _mm512_fmadd_ps(w, _mm512_maskz_loadu_ps(mask[k], row + k * 16), acc[k]);
      }
    }
    for (size_t k = 0; k < vecs; ++k) _mm512_mask_storeu_ps(out + c0 + k * 16, mask[k], acc[k]);
  }
}

}  // namespace kvlab::kernels
