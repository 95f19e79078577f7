// Matrix products with the weights: y = W x for one token (decode) and Y = X W^T for many (prefill).
// W is a MatrixView [out][in] (tensor/matrix_view.h; row-major, as ModelWeights stores every projection) of
// any weight dtype: f32, bf16, f16 or q8 (ops/matvec_kernels.h); x and y are always f32.
#pragma once

#include <array>
#include <cstddef>
#include <initializer_list>

#include "kvlab/tensor/matrix_view.h"

namespace kvlab {

// What a thread does with rows [begin, end) of a product's output right after it computed them, inside
// the parallel region: an elementwise epilogue (a bias, a residual add) runs on the thread that wrote
// those rows, while they are in its cache, instead of on one thread after the region while the other
// waits (and reads half the rows from the other core). fn(ctx, begin, end); the rows of one job are
// finished in pieces, each piece once, by the threads at once.
struct RowsFinish {
  void (*fn)(void* ctx, size_t begin, size_t end) = nullptr;
  void* ctx = nullptr;
  void operator()(size_t begin, size_t end) const { fn(ctx, begin, end); }
  explicit operator bool() const { return fn != nullptr; }
};

// One y = W x product. x: [W.cols], y: [W.rows]; `finish` (optional) as above.
struct MatVecJob {
  const MatrixView* w;
  const float* x;
  float* y;
  RowsFinish finish = {};
};

// Rows a decode mat-vec hands to a thread as a unit (WorkShares' items): a multiple of the kernels' 4-row
// pass, big enough to amortize scheduling. A thread's rows start at a multiple of it, so a kernel that
// groups rows by it (the f32 long-row kernel folds 16 rows' sums at once) sums each row the same way
// whatever the thread split.
inline constexpr size_t kMatVecRowBlock = 16;
// A matrix's row blocks: the items of its rows that MatVecMany hands out.
inline size_t MatVecRowBlocks(const MatrixView& w) {
  return (static_cast<size_t>(w.rows) + kMatVecRowBlock - 1) / kMatVecRowBlock;
}

// Products one MatVecMany runs at most.
inline constexpr size_t kMaxMatVecJobs = 4;

// The matrices of the mat-vec region that a decode step runs next (after Q, K and V: the output
// projection), in the order that region's MatVecMany will be handed them. Empty: none known.
struct NextMatVec {
  NextMatVec() = default;
  NextMatVec(std::initializer_list<const MatrixView*> matrices);

  std::array<const MatrixView*, kMaxMatVecJobs> w{};
  size_t count = 0;
};

// Runs several independent products in ONE parallel region (e.g. Q, K and V; gate and up), splitting the
// rows of all of them evenly over the threads: fewer fork/joins per token, and both cores stream weights.
// With `next`, each thread that has finished its rows requests the first kPrefetchNextBytes of its share of
// the next region while it waits (at this region's end, then between the regions: PrefetchWhileWaiting,
// ops/thread_team.h), so that region starts on lines already in L2.
void MatVecMany(std::initializer_list<MatVecJob> jobs, const NextMatVec& next = {});
inline void MatVec(const MatrixView& w, const float* x, float* y) { MatVecMany({{&w, x, y}}); }

// Bytes of the next region that a waiting thread requests (see MatVecMany): about what one thread streams
// in a decode step's gaps (llama-110m's q8 step on 2 threads: ~110 µs of serial work and ~60 µs of the
// caller's waits over ~60 regions, 2-3 µs a gap at ~30 GB/s a thread). Sizes tried on q8 decode at depth
// 128 (a few interleaved rounds against none): 32 KB no faster, 64 and 96 KB 4-5% faster steps, 256 KB
// slowed the attention regions, into which the requests run on. Over 164 later pairs in four formats, 96
// KB made 97 steps faster, by 0.7-3.9% at the median per format (BENCHMARKS.md, History, 3faaaf5).
inline constexpr size_t kPrefetchNextBytes = size_t{96} << 10;

// Where thread t of a region over `next` starts reading (the front of the share WorkShares hands it first),
// and the bytes from there to the end of that matrix, at most kPrefetchNextBytes. {nullptr, 0} when the
// region would not use thread t.
struct WeightBytes {
  const void* data = nullptr;
  size_t bytes = 0;
};
WeightBytes ShareFront(const NextMatVec& next, size_t t);

// Y[n][W.rows] = X[n][W.cols] · W^T. n == 1 uses MatVecMany, with `next`. Larger n (prefill) uses the
// AVX-512 tile kernels (ops/gemm_kernels.h: bf16 weights multiply the activation rounded to bf16, q8
// weights the activation quantized as in decode), or without AVX-512 OpenBLAS sgemm on panels of rows
// decoded to f32.
void MatMul(const MatrixView& w, const float* x, size_t n, float* y, const NextMatVec& next = {});

// Adds bias [cols] to every row of y [n][cols]; no-op when bias is empty.
void AddBias(const VectorView& bias, float* y, size_t n, size_t cols);

}  // namespace kvlab
