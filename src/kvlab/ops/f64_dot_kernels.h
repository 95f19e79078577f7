// Dot products and squared distances of f32 vectors taken in double, for decisions (nearest summary,
// kv/policies/summary_policy.cc) that must not depend on the build or the instruction set.
//
// Every path sums in kF64Lanes interleaved partial sums (lane j takes the terms i ≡ j mod kF64Lanes) and
// then adds the lanes in order 0, 1, ..., so the scalar and SIMD kernels give the same bits. A product of
// two floats is exact in double, so a fused multiply-add gives the same sum as a multiply and an add.
#pragma once

#include <cstddef>

namespace kvlab::kernels {

inline constexpr size_t kF64Lanes = 8;

// For each r in [0, n_rows): dot[r] = Σ_i x[i]·rows[r][i] and norm2[r] = Σ_i rows[r][i]², i in [0, n).
// rows: [n_rows] pointers to [n] floats each.
void DotsAndNormsF64Scalar(const float* x, const float* const* rows, size_t n_rows, size_t n, double* dot,
                           double* norm2);
void DotsAndNormsF64Avx512(const float* x, const float* const* rows, size_t n_rows, size_t n, double* dot,
                           double* norm2);

// For each r in [0, n_rows): out[r] = Σ_i (x[i] - rows[r][i])².
void SquaredDistancesF64Scalar(const float* x, const float* const* rows, size_t n_rows, size_t n,
                               double* out);
void SquaredDistancesF64Avx512(const float* x, const float* const* rows, size_t n_rows, size_t n,
                               double* out);

// The kernels for the active SIMD level.
using DotsAndNormsF64Fn = void (*)(const float*, const float* const*, size_t, size_t, double*, double*);
using SquaredDistancesF64Fn = void (*)(const float*, const float* const*, size_t, size_t, double*);
DotsAndNormsF64Fn DotsAndNormsF64Kernel();
SquaredDistancesF64Fn SquaredDistancesF64Kernel();

}  // namespace kvlab::kernels
