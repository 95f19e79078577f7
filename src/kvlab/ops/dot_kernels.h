// Inner kernels of the f32 matrix-vector product, one per SIMD level.
// DotRows computes out[r] = dot(w + r*stride, x) for r in [0, rows): several rows share each load of x, so
// the weights stream through once at full memory bandwidth (decode is memory-bound; see DESIGN.md §6).
#pragma once

#include <cstddef>

namespace kvlab::kernels {

// w: [rows][stride] (only the first n columns are read), x: [n], out: [rows]. No alignment required.
void DotRowsScalar(const float* w, size_t stride, size_t rows, const float* x, size_t n, float* out);
void DotRowsAvx2(const float* w, size_t stride, size_t rows, const float* x, size_t n, float* out);
void DotRowsAvx512(const float* w, size_t stride, size_t rows, const float* x, size_t n, float* out);

// out[0..n) = sum_j p[j] * v[j*stride .. j*stride+n): the attention output, a row-weighted sum of values.
// The SIMD paths keep `out` in registers across all rows (n <= 128) instead of a load/store per row.
// Rows whose weight is exactly 0 (masked positions) are skipped.
void WeightedRowSumScalar(const float* v, size_t stride, size_t rows, const float* p, size_t n, float* out);
void WeightedRowSumAvx2(const float* v, size_t stride, size_t rows, const float* p, size_t n, float* out);
void WeightedRowSumAvx512(const float* v, size_t stride, size_t rows, const float* p, size_t n, float* out);
using WeightedRowSumFn = void (*)(const float*, size_t, size_t, const float*, size_t, float*);
WeightedRowSumFn WeightedRowSumKernel();

// Picks the kernel for the active SIMD level.
using DotRowsFn = void (*)(const float*, size_t, size_t, const float*, size_t, float*);
DotRowsFn DotRowsKernel();


}  // namespace kvlab::kernels
