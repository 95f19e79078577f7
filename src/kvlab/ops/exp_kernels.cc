// Scalar (reference) exp kernels and the choice of kernel for the active SIMD level.
#include "kvlab/ops/exp_kernels.h"

#include <cmath>

#include "kvlab/ops/cpu_features.h"

namespace kvlab::kernels {

float ExpShiftSumScalar(float* x, size_t n, float shift) {
  double sum = 0;
  for (size_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - shift);
    sum += x[i];
  }
  return static_cast<float>(sum);
}

void SiluMulScalar(float* gate, const float* up, size_t n) {
  for (size_t i = 0; i < n; ++i) gate[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

ExpShiftSumFn ExpShiftSumKernel() {
  switch (ActiveSimdLevel()) {
    case SimdLevel::kAvx512: return ExpShiftSumAvx512;
    case SimdLevel::kAvx2: return ExpShiftSumAvx2;
    case SimdLevel::kScalar: break;
  }
  return ExpShiftSumScalar;
}

SiluMulFn SiluMulKernel() {
  switch (ActiveSimdLevel()) {
    case SimdLevel::kAvx512: return SiluMulAvx512;
    case SimdLevel::kAvx2: return SiluMulAvx2;
    case SimdLevel::kScalar: break;
  }
  return SiluMulScalar;
}

}  // namespace kvlab::kernels
