#include "kvlab/ops/activations.h"

#include <cmath>

#include "kvlab/ops/exp_kernels.h"

namespace kvlab {

void SwiGlu(float* gate, const float* up, size_t n) { kernels::SiluMulKernel()(gate, up, n); }

void GeluTanh(float* x, size_t n) {
  constexpr float kSqrt2OverPi = 0.7978845608028654f;
  for (size_t i = 0; i < n; ++i) {
    const float v = x[i];
    x[i] = 0.5f * v * (1.0f + std::tanh(kSqrt2OverPi * (v + 0.044715f * v * v * v)));
  }
}

void GeluTanhGlu(float* gate, const float* up, size_t n) {
  GeluTanh(gate, n);
  for (size_t i = 0; i < n; ++i) gate[i] *= up[i];
}

void GeluErf(float* x, size_t n) {
  constexpr float kInvSqrt2 = 0.7071067811865476f;
  for (size_t i = 0; i < n; ++i) x[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * kInvSqrt2));
}

}  // namespace kvlab
