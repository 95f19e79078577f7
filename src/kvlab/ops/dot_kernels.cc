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

void WeightedRowSumScalar(const float* v, size_t stride, size_t rows, const float* p, size_t n, float* out) {
  for (size_t i = 0; i < n; ++i) out[i] = 0.0f;
  for (size_t j = 0; j < rows; ++j) {
    if (p[j] == 0.0f) continue;
    const float* row = v + j * stride;
    for (size_t i = 0; i < n; ++i) out[i] += p[j] * row[i];
  }
}

WeightedRowSumFn WeightedRowSumKernel() {
  switch (ActiveSimdLevel()) {
    case SimdLevel::kAvx512: return WeightedRowSumAvx512;
    case SimdLevel::kAvx2: return WeightedRowSumAvx2;
    case SimdLevel::kScalar: break;
  }
  return WeightedRowSumScalar;
}

DotRowsFn DotRowsKernel() {
  switch (ActiveSimdLevel()) {
    case SimdLevel::kAvx512: return DotRowsAvx512;
    case SimdLevel::kAvx2: return DotRowsAvx2;
    case SimdLevel::kScalar: break;
  }
  return DotRowsScalar;
}

}  // namespace kvlab::kernels
