// AVX-512 path of DotRows (compiled with -mavx512f...; only called when the CPU has them).
// Short rows (attention keys) go 16 or 4 rows per pass, sharing each 16-float load of x; long rows (weight
// matrices) one at a time as one linear stream. Masked loads handle any tail without a scalar loop.
#include <immintrin.h>

#include <algorithm>

#include "kvlab/ops/avx512_inline.h"
#include "kvlab/ops/dot_kernels.h"
#include "kvlab/ops/vector_count_dispatch.h"

namespace kvlab::kernels {

namespace {
// Attention reads each head's keys and values as short streams (a few KB to a few MB) that this machine's
// hardware prefetcher picks up late or not at all; the kernels request rows this far ahead themselves.
constexpr size_t kPrefetchRows = 32;

// Short rows (attention keys: head_dim values): 16 rows per pass and one combined reduction for all 16
// (FoldQuad / FoldQuads in avx512_inline.h).
inline __m512 DotQuad(const float* w, size_t stride, const float* x, size_t n) {
  __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
  for (size_t i = 0; i < n; i += 16) {
    const __mmask16 m = TailMask(n - i);
    const __m512 xv = _mm512_maskz_loadu_ps(m, x + i);
    a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w + i), xv, a0);
    a1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w + stride + i), xv, a1);
    a2 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w + 2 * stride + i), xv, a2);
    a3 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w + 3 * stride + i), xv, a3);
  }
  return FoldQuad(a0, a1, a2, a3);
}

void ShortRows16(const float* w, size_t stride, const float* x, size_t n, float* out, const float* next) {
  // next: the rows kPrefetchRows ahead, requested now so they are in cache when their pass comes.
  for (size_t b = 0; b < 16 * stride * sizeof(float); b += 64) _mm_prefetch(reinterpret_cast<const char*>(next) + b, _MM_HINT_T0);
  const __m512 c0 = DotQuad(w, stride, x, n), c1 = DotQuad(w + 4 * stride, stride, x, n);
  const __m512 c2 = DotQuad(w + 8 * stride, stride, x, n), c3 = DotQuad(w + 12 * stride, stride, x, n);
  _mm512_storeu_ps(out, FoldQuads(c0, c1, c2, c3));
}

// Long rows (weight matrices: 768-8192 floats): one row at a time, front to back, with four accumulators
// inside the row. Why: a thread's rows are then one linear stream, where 4 rows per pass (x loaded once
// for 4 rows) made 4 interleaved ones. Same bytes, same prefetch distance, but the llama-110m f32 decode
// step ran 7-12% faster (interleaved in-process A/B, BENCHMARKS.md, commit f020955). The line 12 KB ahead is
// requested for every line loaded, NTA (into L1 without filling L2: streamed weights neither evict what
// stays nor cost L2 -> L3 victim writes on this AMD part); 6 KB did as well, 24 and 48 KB worse.
constexpr size_t kLongRowAheadFloats = (size_t{12} << 10) / sizeof(float);

// One long row's dot product with x as 16 lane-wise partial sums.
inline __m512 LongRowPartials(const float* row, const float* x, size_t n) {
  const char* ahead = reinterpret_cast<const char*>(row + kLongRowAheadFloats);  // a hint: never faults
  __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(),
         a3 = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    _mm_prefetch(ahead + 4 * i, _MM_HINT_NTA);
    _mm_prefetch(ahead + 4 * i + 64, _MM_HINT_NTA);
    _mm_prefetch(ahead + 4 * i + 128, _MM_HINT_NTA);
    _mm_prefetch(ahead + 4 * i + 192, _MM_HINT_NTA);
    a0 = _mm512_fmadd_ps(_mm512_loadu_ps(row + i), _mm512_loadu_ps(x + i), a0);
    a1 = _mm512_fmadd_ps(_mm512_loadu_ps(row + i + 16), _mm512_loadu_ps(x + i + 16), a1);
    a2 = _mm512_fmadd_ps(_mm512_loadu_ps(row + i + 32), _mm512_loadu_ps(x + i + 32), a2);
    a3 = _mm512_fmadd_ps(_mm512_loadu_ps(row + i + 48), _mm512_loadu_ps(x + i + 48), a3);
  }
  for (; i < n; i += 16) {  // the last 1-63 floats, 16 at a time, masked
    const __mmask16 m = TailMask(n - i);
    _mm_prefetch(ahead + 4 * i, _MM_HINT_NTA);
    a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, row + i), _mm512_maskz_loadu_ps(m, x + i), a0);
  }
  return _mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3));
}

// Sixteen rows' partial sums folded at once (FoldSixteen) instead of a horizontal sum per row: ~1 shuffle
// or add per row instead of ~8. The step is memory-bound, but the fewer instructions per byte, the further
// ahead of a missing load the core keeps issuing the loop's prefetches: in BM_MatVecChain's one region (2
// threads) the kernel read 0.95 of the bound's probe over the same bytes against 0.91 (six alternating
// rounds), and f32 decode at depth 128 read 83.6 and 84.2% of the bound against 79.7 and 79.5% (two sets
// of five and four interleaved rounds, 2026-12-07). The bf16/f16 kernels gained nothing from it.
// Rows come in blocks of 16 (kMatVecRowBlock, ops/matmul.h), so a row's sum order does not depend on the
// thread split.
void LongRows(const float* w, size_t stride, size_t rows, const float* x, size_t n, float* out) {
  size_t r = 0;
  for (; r + 16 <= rows; r += 16) {
    __m512 partials[16];
    for (size_t j = 0; j < 16; ++j) partials[j] = LongRowPartials(w + (r + j) * stride, x, n);
    _mm512_storeu_ps(out + r, FoldSixteen(partials));
  }
  for (; r < rows; ++r) out[r] = _mm512_reduce_add_ps(LongRowPartials(w + r * stride, x, n));
}
}  // namespace

void DotRowsAvx512(const float* w, size_t stride, size_t rows, const float* x, size_t n, float* out) {
  if (n > 256) {
    LongRows(w, stride, rows, x, n, out);
    return;
  }
  size_t r = 0;
  for (; r + 16 <= rows; r += 16) {
    const size_t ahead = std::min(rows - 16, r + kPrefetchRows);
    ShortRows16(w + r * stride, stride, x, n, out + r, w + ahead * stride);
  }
  for (; r + 4 <= rows; r += 4) {
    const float* w0 = w + r * stride;
    const float* w1 = w0 + stride;
    const float* w2 = w1 + stride;
    const float* w3 = w2 + stride;
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(),
           a3 = _mm512_setzero_ps();
    // The last 4-15 short rows: the next 4 rows requested one pass ahead, NTA as in LongRows.
    const float* next = w0 + 4 * stride;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
      _mm_prefetch(reinterpret_cast<const char*>(next + i), _MM_HINT_NTA);
      _mm_prefetch(reinterpret_cast<const char*>(next + stride + i), _MM_HINT_NTA);
      _mm_prefetch(reinterpret_cast<const char*>(next + 2 * stride + i), _MM_HINT_NTA);
      _mm_prefetch(reinterpret_cast<const char*>(next + 3 * stride + i), _MM_HINT_NTA);
      const __m512 xv = _mm512_loadu_ps(x + i);
      a0 = _mm512_fmadd_ps(_mm512_loadu_ps(w0 + i), xv, a0);
      a1 = _mm512_fmadd_ps(_mm512_loadu_ps(w1 + i), xv, a1);
      a2 = _mm512_fmadd_ps(_mm512_loadu_ps(w2 + i), xv, a2);
      a3 = _mm512_fmadd_ps(_mm512_loadu_ps(w3 + i), xv, a3);
    }
    if (i < n) {
      const __mmask16 m = TailMask(n - i);
      const __m512 xv = _mm512_maskz_loadu_ps(m, x + i);
      a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w0 + i), xv, a0);
      a1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w1 + i), xv, a1);
      a2 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w2 + i), xv, a2);
      a3 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w3 + i), xv, a3);
    }
    out[r] = _mm512_reduce_add_ps(a0);
    out[r + 1] = _mm512_reduce_add_ps(a1);
    out[r + 2] = _mm512_reduce_add_ps(a2);
    out[r + 3] = _mm512_reduce_add_ps(a3);
  }
  for (; r < rows; ++r) {
    const float* row = w + r * stride;
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
      a0 = _mm512_fmadd_ps(_mm512_loadu_ps(row + i), _mm512_loadu_ps(x + i), a0);
      a1 = _mm512_fmadd_ps(_mm512_loadu_ps(row + i + 16), _mm512_loadu_ps(x + i + 16), a1);
    }
    for (; i < n; i += 16) {
      const __mmask16 m = TailMask(n - i);
      a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, row + i), _mm512_maskz_loadu_ps(m, x + i), a0);
    }
    out[r] = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
  }
}

namespace {
// One stretch of up to 128 output columns: V vectors of 16 stay in registers for all rows (V is a template
// argument so the accumulators are registers, not a stack array). Rows kPrefetchRows ahead are requested
// as the pass goes.
template <int V>
void WeightedRows(const float* v, size_t stride, size_t rows, const float* p, size_t width, float* out) {
  __m512 acc[V];
  __mmask16 mask[V];
  for (int k = 0; k < V; ++k) {
    acc[k] = _mm512_setzero_ps();
    mask[k] = TailMask(width - 16 * k);
  }
  for (size_t j = 0; j < rows; ++j) {
    const char* ahead = reinterpret_cast<const char*>(v + std::min(j + kPrefetchRows, rows - 1) * stride);
    for (int k = 0; k < V; ++k) _mm_prefetch(ahead + 64 * k, _MM_HINT_T0);  // one 64-byte line per vector
    if (p[j] == 0.0f) continue;
    const __m512 w = _mm512_set1_ps(p[j]);
    const float* row = v + j * stride;
    for (int k = 0; k < V; ++k) acc[k] = _mm512_fmadd_ps(w, _mm512_maskz_loadu_ps(mask[k], row + 16 * k), acc[k]);
  }
  for (int k = 0; k < V; ++k) _mm512_mask_storeu_ps(out + 16 * k, mask[k], acc[k]);
}
}  // namespace

void WeightedRowSumAvx512(const float* v, size_t stride, size_t rows, const float* p, size_t n, float* out) {
  for (size_t c0 = 0; c0 < n; c0 += 128) {
    const size_t width = std::min<size_t>(n - c0, 128);
    WithVectorCount((width + 15) / 16, [&](auto vecs) { WeightedRows<decltype(vecs)::value>(v + c0, stride, rows, p, width, out + c0); });
  }
}

}  // namespace kvlab::kernels
