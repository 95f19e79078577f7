// Vectorized exp for the two places a decode step calls it per element: the attention softmax (one exp per
// cached slot per head) and SwiGLU's sigmoid (one per hidden unit). One kernel per SIMD level, chosen at run
// time; the scalar level is std::exp and is the reference the others are tested against.
//
// The SIMD paths use the usual range reduction x = k·ln2 + r, |r| <= ln2/2, and a degree-6 polynomial for
// exp(r) (Cephes' expf coefficients), then an exact scaling by 2^k: within a few ulp of std::exp, with the
// same overflow to inf and gradual underflow to 0. exp(-inf) is exactly 0 (a masked slot gets probability
// exactly 0) and NaN stays NaN.
#pragma once

#include <cstddef>

namespace kvlab::kernels {

// x[i] = exp(x[i] - shift) for i in [0, n); returns the sum of the new x[i].
using ExpShiftSumFn = float (*)(float* x, size_t n, float shift);
float ExpShiftSumScalar(float* x, size_t n, float shift);
float ExpShiftSumAvx2(float* x, size_t n, float shift);
float ExpShiftSumAvx512(float* x, size_t n, float shift);
ExpShiftSumFn ExpShiftSumKernel();

// gate[i] = silu(gate[i]) * up[i] = gate[i] / (1 + exp(-gate[i])) * up[i]   (SwiGLU).
using SiluMulFn = void (*)(float* gate, const float* up, size_t n);
void SiluMulScalar(float* gate, const float* up, size_t n);
void SiluMulAvx2(float* gate, const float* up, size_t n);
void SiluMulAvx512(float* gate, const float* up, size_t n);
SiluMulFn SiluMulKernel();

}  // namespace kvlab::kernels
