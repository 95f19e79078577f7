#include "kvlab/ops/dot_kernels.h"

#include "kvlab/ops/cpu_features.h"

namespace kvlab::kernels {

void DotRowsScalar(const float* w, size_t stride, size_t rows, const float* x, size_t n, float* out) {
  for (size_t r = 0; r < rows; ++r) {
    const float* row = w + r * stride;
    // Four partial sums: keeps the scalar path's rounding closer to the SIMD paths' and lets it vectorize.
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
      s0 += row[i] * x[i];
      s1 += row[i + 1] * x[i + 1];
      s2 += row[i + 2] * x[i + 2];
      s3 += row[i + 3] * x[i + 3];
    }
    for (; i < n; ++i) s0 += row[i] * x[i];
    out[r] = (s0 + s1) + (s2 + s3);
  }
}

DotRowsFn DotRowsKernel() {
  switch (ActiveSimdLevel()) {
    case SimdLevel::kAvx512: return DotRowsAvx512;
    case SimdLevel::kAvx2: return DotRowsAvx2;
    case SimdLevel::kScalar: break;
  }
  return DotRowsScalar;
}

float Dot(const float* a, const float* b, size_t n) {
  float out;
  DotRowsKernel()(a, 0, 1, b, n, &out);
  return out;
}

void Axpy(float a, const float* x, float* y, size_t n) {
  // Simple enough for the compiler to vectorize at any level; kept scalar-source on purpose.
  for (size_t i = 0; i < n; ++i) y[i] += a * x[i];
}

}  // namespace kvlab::kernels
