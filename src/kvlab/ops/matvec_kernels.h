// Row kernels of the matrix-vector product for every weight dtype (f32, bf16, f16, q8), one per SIMD level,
// and the per-token preparation of the activation vector that the q8 kernels need.
//
// A kernel computes out[r] = dot(row r of w, x) for r in [0, rows), rows `row_bytes` apart. Several rows
// share each load of x, so the weights stream through once (decode is memory-bound: DESIGN.md §6).
//   f32/bf16/f16: `x` is the f32 activation vector [n]; weights are converted exactly to f32 in registers
//                 and multiplied in f32 (no precision lost on the activation side).
//   q8:           `x` is a Q8Activation: x quantized per block of 32 (like llama.cpp's q8_0 activations),
//                 multiplied in integers (VNNI dpbusd where the CPU has it) and scaled per block.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "kvlab/ops/cpu_features.h"
#include "kvlab/tensor/dtype.h"

namespace kvlab::kernels {

// An activation vector quantized for the q8 kernels. Arrays are padded to whole groups of 16 blocks with
// zeros, so kernels may read a full group past the end of n.
struct Q8Activation {
  size_t n = 0;
  size_t blocks = 0;               // ceil(n / 32)
  std::vector<int8_t> q;           // [padded blocks][32]  round(x / d)
  std::vector<float> d;            // [padded blocks]      max|x| / 127 of the block
  std::vector<int32_t> sum;        // [padded blocks]      sum of q in the block
  std::vector<int32_t> corr_lanes; // [padded blocks][8]   -16 * sum: cancels the weights' +128 offset over 8 lanes
};
inline constexpr size_t kQ8GroupBlocks = 16;

// Fills `a` from x[0..n). Buffers only grow, so a reused Q8Activation allocates nothing per token.
// The AVX-512 version gives bit-identical results (same float operations, 32 values per block at once).
void QuantizeActivation(const float* x, size_t n, Q8Activation& a);
void QuantizeActivationScalar(const float* x, size_t n, Q8Activation& a);
// Sets n and blocks and grows the buffers to whole groups of blocks; returns that padded block count.
size_t SizeQ8Activation(size_t n, Q8Activation& a);
void QuantizeActivationAvx512(const float* x, size_t n, Q8Activation& a);

using RowsFn = void (*)(const uint8_t* w, size_t row_bytes, size_t rows, const void* x, size_t n, float* out);

void F32RowsScalar(const uint8_t* w, size_t row_bytes, size_t rows, const void* x, size_t n, float* out);
void Bf16RowsScalar(const uint8_t* w, size_t row_bytes, size_t rows, const void* x, size_t n, float* out);
void F16RowsScalar(const uint8_t* w, size_t row_bytes, size_t rows, const void* x, size_t n, float* out);
void Q8RowsScalar(const uint8_t* w, size_t row_bytes, size_t rows, const void* x, size_t n, float* out);

void F32RowsAvx2(const uint8_t* w, size_t row_bytes, size_t rows, const void* x, size_t n, float* out);
void Bf16RowsAvx2(const uint8_t* w, size_t row_bytes, size_t rows, const void* x, size_t n, float* out);
void F16RowsAvx2(const uint8_t* w, size_t row_bytes, size_t rows, const void* x, size_t n, float* out);
void Q8RowsAvx2(const uint8_t* w, size_t row_bytes, size_t rows, const void* x, size_t n, float* out);

void F32RowsAvx512(const uint8_t* w, size_t row_bytes, size_t rows, const void* x, size_t n, float* out);
void Bf16RowsAvx512(const uint8_t* w, size_t row_bytes, size_t rows, const void* x, size_t n, float* out);
void F16RowsAvx512(const uint8_t* w, size_t row_bytes, size_t rows, const void* x, size_t n, float* out);
void Q8RowsAvx512(const uint8_t* w, size_t row_bytes, size_t rows, const void* x, size_t n, float* out);  // +VNNI

// The kernel for weights of type t at SIMD level `level` (q8 at avx512 needs VNNI; without it, avx2's).
RowsFn RowsKernel(DType t, SimdLevel level);
// The kernel of the active level, or ProbeRows while probe mat-vecs are on (SetProbeMatVecs).
RowsFn RowsKernel(DType t);

// Not a product: reads the rows' bytes as the bandwidth probe's faster read does (kernels::StreamSum with
// its prefetch requests, eval/membw.h) and sets out[0, rows) to 0. A decode step whose mat-vecs all run it
// costs what its structure (the regions, the attention, the serial work) costs with weights that stream
// exactly at the probe's rate: `kvlab bench --probe-matvecs`, the ceiling of the kernels' share of a step.
void ProbeRows(const uint8_t* w, size_t row_bytes, size_t rows, const void* x, size_t n, float* out);
// While on, RowsKernel(t) returns ProbeRows for every dtype (every MatVecMany and decode MatMul). For
// benchmarks only: every output of a mat-vec is then 0.
void SetProbeMatVecs(bool on);

// Dequantizes one row of n values of type t into out[0..n) (prefill panels, embedding lookups).
void DecodeRow(DType t, const uint8_t* row, size_t n, float* out);

}  // namespace kvlab::kernels
