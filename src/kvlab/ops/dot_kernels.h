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

// Picks the kernel for the active SIMD level.
using DotRowsFn = void (*)(const float*, size_t, size_t, const float*, size_t, float*);
DotRowsFn DotRowsKernel();

// Plain f32 dot product (attention scores) and y += a*x (attention output), SIMD-dispatched.
float Dot(const float* a, const float* b, size_t n);
void Axpy(float a, const float* x, float* y, size_t n);

}  // namespace kvlab::kernels
