// AVX2 + FMA path of DotRows (compiled with -mavx2 -mfma; only called when the CPU has them).
#include <immintrin.h>

#include "kvlab/ops/dot_kernels.h"

namespace kvlab::kernels {

namespace {
inline float HorizontalSum(__m256 v) {
  __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
  lo = _mm_add_ps(lo, hi);
  lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
  lo = _mm_add_ss(lo, _mm_shuffle_ps(lo, lo, 1));
  return _mm_cvtss_f32(lo);
}

// One row at a time with two accumulators; tail done in scalar.
float DotOne(const float* row, const float* x, size_t n) {
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(row + i), _mm256_loadu_ps(x + i), a0);
    a1 = _mm256_fmadd_ps(_mm256_loadu_ps(row + i + 8), _mm256_loadu_ps(x + i + 8), a1);
  }
  for (; i + 8 <= n; i += 8) a0 = _mm256_fmadd_ps(_mm256_loadu_ps(row + i), _mm256_loadu_ps(x + i), a0);
  float s = HorizontalSum(_mm256_add_ps(a0, a1));
  for (; i < n; ++i) s += row[i] * x[i];
  return s;
}
}  // namespace

void DotRowsAvx2(const float* w, size_t stride, size_t rows, const float* x, size_t n, float* out) {
  size_t r = 0;
  for (; r + 4 <= rows; r += 4) {  // 4 rows share each load of x
    const float* w0 = w + r * stride;
    const float* w1 = w0 + stride;
    const float* w2 = w1 + stride;
    const float* w3 = w2 + stride;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(),
           a3 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      const __m256 xv = _mm256_loadu_ps(x + i);
      a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w0 + i), xv, a0);
      a1 = _mm256_fmadd_ps(_mm256_loadu_ps(w1 + i), xv, a1);
      a2 = _mm256_fmadd_ps(_mm256_loadu_ps(w2 + i), xv, a2);
      a3 = _mm256_fmadd_ps(_mm256_loadu_ps(w3 + i), xv, a3);
    }
    float s0 = HorizontalSum(a0), s1 = HorizontalSum(a1), s2 = HorizontalSum(a2), s3 = HorizontalSum(a3);
    for (; i < n; ++i) {
      s0 += w0[i] * x[i];
      s1 += w1[i] * x[i];
      s2 += w2[i] * x[i];
      s3 += w3[i] * x[i];
    }
    out[r] = s0;
    out[r + 1] = s1;
    out[r + 2] = s2;
    out[r + 3] = s3;
  }
  for (; r < rows; ++r) out[r] = DotOne(w + r * stride, x, n);
}

// 64 output columns (8 registers) per pass; the last partial vector of a pass is done in scalar.
void WeightedRowSumAvx2(const float* v, size_t stride, size_t rows, const float* p, size_t n, float* out) {
  for (size_t c0 = 0; c0 < n; c0 += 64) {
    const size_t width = n - c0 < 64 ? n - c0 : 64;
    const size_t vecs = width / 8;
    __m256 acc[8];
    for (size_t k = 0; k < 8; ++k) acc[k] = _mm256_setzero_ps();
    for (size_t i = c0 + vecs * 8; i < c0 + width; ++i) out[i] = 0.0f;
    for (size_t j = 0; j < rows; ++j) {
      if (p[j] == 0.0f) continue;
      const __m256 w = _mm256_set1_ps(p[j]);
      const float* row = v + j * stride + c0;
      for (size_t k = 0; k < vecs; ++k) acc[k] = _mm256_fmadd_ps(w, _mm256_loadu_ps(row + k * 8), acc[k]);
      for (size_t i = vecs * 8; i < width; ++i) out[c0 + i] += p[j] * row[i];
    }
    for (size_t k = 0; k < vecs; ++k) _mm256_storeu_ps(out + c0 + k * 8, acc[k]);
  }
}

}  // namespace kvlab::kernels
