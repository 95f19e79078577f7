// AVX-512 row kernels (compiled with -mavx512f/bw/vl/vnni/bf16; called only when the CPU has them).
// 4 rows per pass share each activation load; masked loads handle any tail without a scalar loop; rows
// a few KB ahead are prefetched by hand (PrefetchRows).
#include <immintrin.h>

#include <algorithm>

#include "kvlab/ops/avx512_inline.h"
#include "kvlab/ops/dot_kernels.h"
#include "kvlab/ops/matvec_kernels.h"
#include "kvlab/tensor/q8_rows.h"

namespace kvlab::kernels {

namespace {
// How far ahead the kernels prefetch, in bytes of weights, rounded to whole 4-row passes (at least one).
// They prefetch past their last row too: a prefetch never faults, and MatVecMany hands a thread its rows in
// chunks, so the rows after a chunk are usually that thread's next ones.
// This machine's hardware prefetcher barely helps (a q8 stream without software prefetch reads at ~14 GB/s
// on one core, ~24 GB/s with it), so the kernels keep lines in flight themselves. The best distance differs
// by kernel (decode step of llama-110m, 2 threads, interleaved A/B): the bf16/f16 kernels are fastest one
// pass ahead (6 KB; 12 KB was ~10% slower), q8 at ~10 KB (4 KB: 15% slower, 13 KB: 5% slower). The
// bf16/f16 kernels prefetch with NTA (bf16 step -10-17%, f16 -1-9% against T0); q8 keeps T0 (NTA was
// neutral to 3% slower there).
constexpr size_t kHalfPrefetchBytes = size_t{6} << 10;
constexpr size_t kQ8PrefetchBytes = size_t{10} << 10;
inline size_t PrefetchRows(size_t bytes, size_t row_bytes) {
  const size_t rows = (bytes / row_bytes + 3) / 4 * 4;
  return rows < 4 ? 4 : (rows > 64 ? 64 : rows);
}

// 16 stored halves (masked) -> 16 floats, exactly.
struct Bf16Load {
  static __m512 Load(__mmask16 m, const uint8_t* p) {
    const __m256i h = _mm256_maskz_loadu_epi16(m, p);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
};
struct F16Load {
  static __m512 Load(__mmask16 m, const uint8_t* p) { return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p)); }
};

template <typename L, int R>
void HalfRows(const uint8_t* w, size_t row_bytes, const float* x, size_t n, float* out, const uint8_t* next) {
  __m512 acc[R];
  for (int j = 0; j < R; ++j) acc[j] = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    if ((i & 31) == 0) {  // one 64-byte line per row every 32 values; NTA as in DotRowsAvx512
      for (int j = 0; j < R; ++j) _mm_prefetch(reinterpret_cast<const char*>(next + j * row_bytes + 2 * i), _MM_HINT_NTA);
    }
    const __m512 xv = _mm512_loadu_ps(x + i);
    for (int j = 0; j < R; ++j) acc[j] = _mm512_fmadd_ps(L::Load(0xffff, w + j * row_bytes + 2 * i), xv, acc[j]);
  }
  if (i < n) {
    const __mmask16 m = TailMask(n - i);
    const __m512 xv = _mm512_maskz_loadu_ps(m, x + i);
    for (int j = 0; j < R; ++j) acc[j] = _mm512_fmadd_ps(L::Load(m, w + j * row_bytes + 2 * i), xv, acc[j]);
  }
  for (int j = 0; j < R; ++j) out[j] = _mm512_reduce_add_ps(acc[j]);
}

// Rows longer than 256 values one at a time, front to back, 4 accumulators inside the row, the line 12 KB
// ahead requested (NTA) for each line loaded: one stream per thread instead of 4 interleaved ones, as the
// f32 kernel reads them (LongRows, ops/dot_kernels_avx512.cc).
constexpr size_t kHalfLongAheadBytes = size_t{12} << 10;

template <typename L>
void HalfLongRows(const uint8_t* w, size_t row_bytes, size_t rows, const float* x, size_t n, float* out) {
  for (size_t r = 0; r < rows; ++r) {
    const uint8_t* row = w + r * row_bytes;
    const char* ahead = reinterpret_cast<const char*>(row + kHalfLongAheadBytes);  // a hint: never faults
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {  // 128 bytes: two lines
      _mm_prefetch(ahead + 2 * i, _MM_HINT_NTA);
      _mm_prefetch(ahead + 2 * i + 64, _MM_HINT_NTA);
      a0 = _mm512_fmadd_ps(L::Load(0xffff, row + 2 * i), _mm512_loadu_ps(x + i), a0);
      a1 = _mm512_fmadd_ps(L::Load(0xffff, row + 2 * i + 32), _mm512_loadu_ps(x + i + 16), a1);
      a2 = _mm512_fmadd_ps(L::Load(0xffff, row + 2 * i + 64), _mm512_loadu_ps(x + i + 32), a2);
      a3 = _mm512_fmadd_ps(L::Load(0xffff, row + 2 * i + 96), _mm512_loadu_ps(x + i + 48), a3);
    }
    for (; i < n; i += 16) {  // the last 1-63 values, 16 at a time, masked
      const __mmask16 m = TailMask(n - i);
      a0 = _mm512_fmadd_ps(L::Load(m, row + 2 * i), _mm512_maskz_loadu_ps(m, x + i), a0);
    }
    out[r] = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
  }
}

template <typename L>
void HalfRowsAll(const uint8_t* w, size_t row_bytes, size_t rows, const float* x, size_t n, float* out) {
  if (n > 256) {
    HalfLongRows<L>(w, row_bytes, rows, x, n, out);
    return;
  }
  const size_t ahead = PrefetchRows(kHalfPrefetchBytes, row_bytes);
  size_t r = 0;
  for (; r + 4 <= rows; r += 4) {
    const uint8_t* rw = w + r * row_bytes;
    HalfRows<L, 4>(rw, row_bytes, x, n, out + r, rw + ahead * row_bytes);
  }
  for (; r < rows; ++r) HalfRows<L, 1>(w + r * row_bytes, row_bytes, x, n, out + r, w + r * row_bytes);
}

// q8 with VNNI, 16 blocks (512 values) per group. One zmm holds 2 blocks = 16 int32 lanes, 8 per block:
//   P      = dpbusd(corr, w_u8, a_s8)   per lane: 4 products (w+128)*a, plus -16*sum(a of block): the 8 lanes
//            of a block together cancel the +128 offset exactly (integer arithmetic)
//   acc   += float(P) * (d_w * d_act)[lane]   (the row's 16 f16 scales converted and multiplied by the
//            activation's 16 block scales once per group, spread to lanes with one permute per zmm)
// kLaneBlock[k]: for the zmm holding blocks 2k and 2k+1 of a group, which of the group's 16 scales each lane
// takes (a permute index).
alignas(64) constexpr int32_t kLaneBlock[8][16] = {
    {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1},         {2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3},
    {4, 4, 4, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5, 5, 5},         {6, 6, 6, 6, 6, 6, 6, 6, 7, 7, 7, 7, 7, 7, 7, 7},
    {8, 8, 8, 8, 8, 8, 8, 8, 9, 9, 9, 9, 9, 9, 9, 9},         {10, 10, 10, 10, 10, 10, 10, 10, 11, 11, 11, 11, 11, 11, 11, 11},
    {12, 12, 12, 12, 12, 12, 12, 12, 13, 13, 13, 13, 13, 13, 13, 13},
    {14, 14, 14, 14, 14, 14, 14, 14, 15, 15, 15, 15, 15, 15, 15, 15}};

template <int R>
void Q8Rows(const uint8_t* w, size_t row_bytes, const Q8Activation& a, size_t n, float* out, const uint8_t* next) {
  const size_t nb = Q8Blocks(n);
  const uint8_t* scales = w + nb * kQ8Block;  // the row's f16 scales follow its quants
  __m512 acc[R];
  for (int j = 0; j < R; ++j) {
    acc[j] = _mm512_setzero_ps();
    // The loop below prefetches the next rows' quants; their scales (the row's last 2·nb bytes) are
    // requested here, or each pass would start with a demand miss on them.
    const uint8_t* next_scales = next + j * row_bytes + nb * kQ8Block;
    _mm_prefetch(reinterpret_cast<const char*>(next_scales), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(next_scales + 2 * nb - 1), _MM_HINT_T0);
  }
  for (size_t g = 0; g < nb; g += kQ8GroupBlocks) {
    const size_t group = nb - g < kQ8GroupBlocks ? nb - g : kQ8GroupBlocks;
    const __mmask16 scale_mask = TailMask(group);
    // Per row, the 16 block scales of the group times the activation's 16 block scales: one multiply per
    // group, so each zmm of products needs only a convert, a permute and an FMA.
    const __m512 da = _mm512_loadu_ps(a.d.data() + g);
    __m512 dwa[R];
    for (int j = 0; j < R; ++j) {
      dwa[j] = _mm512_mul_ps(_mm512_cvtph_ps(_mm256_maskz_loadu_epi16(scale_mask, scales + j * row_bytes + 2 * g)), da);
    }
    // Whole zmm (2 blocks) first, with plain loads and the loop unrolled over a group's 8 of them; then
    // an odd last block, masked. Without the per-zmm choice of a masked load the kernel multiplies 61
    // GiB/s in L2 on one thread against 54 (BM_MatVecDType/4/512/768/1, four alternating runs), and q8
    // decode at depth 128 read 73.0% of the bound against 71.4% (12 interleaved rounds, 10 higher;
    // 2026-12-07).
    const size_t pairs = group / 2;
#pragma GCC unroll 8
    for (size_t k = 0; k < pairs; ++k) {
      const size_t b = g + 2 * k;  // first block of this zmm
      const __m512i av = _mm512_loadu_si512(a.q.data() + b * kQ8Block);
      const __m512i corr = _mm512_loadu_si512(a.corr_lanes.data() + b * 8);
      const __m512i lane_block = _mm512_load_si512(kLaneBlock[k]);
      for (int j = 0; j < R; ++j) {
        _mm_prefetch(reinterpret_cast<const char*>(next + j * row_bytes + b * kQ8Block), _MM_HINT_T0);
        const __m512i wv = _mm512_loadu_si512(w + j * row_bytes + b * kQ8Block);
        const __m512 p = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(corr, wv, av));
        acc[j] = _mm512_fmadd_ps(p, _mm512_permutexvar_ps(lane_block, dwa[j]), acc[j]);
      }
    }
    if (group % 2 != 0) {
      const size_t b = g + group - 1;  // the odd block: the low half of a zmm, its lanes 0-7
      const __m512i av = _mm512_loadu_si512(a.q.data() + b * kQ8Block);
      const __m512i corr = _mm512_loadu_si512(a.corr_lanes.data() + b * 8);
      const __m512i lane_block = _mm512_load_si512(kLaneBlock[pairs]);
      for (int j = 0; j < R; ++j) {
        _mm_prefetch(reinterpret_cast<const char*>(next + j * row_bytes + b * kQ8Block), _MM_HINT_T0);
        const __m512i wv = _mm512_maskz_loadu_epi8(__mmask64{0xffffffffu}, w + j * row_bytes + b * kQ8Block);
        const __m512 p = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(corr, wv, av));
        acc[j] = _mm512_fmadd_ps(p, _mm512_permutexvar_ps(lane_block, dwa[j]), acc[j]);
      }
    }
  }
  for (int j = 0; j < R; ++j) out[j] = _mm512_reduce_add_ps(acc[j]);
}
}  // namespace

void QuantizeActivationAvx512(const float* x, size_t n, Q8Activation& a) {
  const size_t padded = SizeQ8Activation(n, a);
  // The blocks past n quantize zeros: all their fields are 0 (a quarter of a 768-value vector's blocks).
  std::fill(a.q.begin() + a.blocks * kQ8Block, a.q.begin() + padded * kQ8Block, int8_t{0});
  std::fill(a.d.begin() + a.blocks, a.d.begin() + padded, 0.0f);
  std::fill(a.sum.begin() + a.blocks, a.sum.begin() + padded, 0);
  std::fill(a.corr_lanes.begin() + a.blocks * 8, a.corr_lanes.begin() + padded * 8, 0);
  const __m512 half = _mm512_set1_ps(0.5f), abs_mask = _mm512_castsi512_ps(_mm512_set1_epi32(0x7fffffff));
  for (size_t b = 0; b < a.blocks; ++b) {
    const size_t i0 = b * kQ8Block;
    const size_t len = i0 < n ? std::min(kQ8Block, n - i0) : 0;
    // Two vectors of the block, zero past n (as the scalar version's `i < len ? … : 0`).
    const __m512 v0 = _mm512_maskz_loadu_ps(TailMask(len), x + i0);
    const __m512 v1 = _mm512_maskz_loadu_ps(len > 16 ? TailMask(len - 16) : 0, x + i0 + 16);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_and_ps(v0, abs_mask), _mm512_and_ps(v1, abs_mask)));
    const float d = amax / 127.0f;
    const float inv = d > 0.0f ? 1.0f / d : 0.0f;
    const __m512 vinv = _mm512_set1_ps(inv);
    __m512i q[2];
    const __m512 vs[2] = {v0, v1};
    for (int h = 0; h < 2; ++h) {
      // Round half away from zero exactly as the scalar code: v + copysign(0.5, v), then truncate.
      const __m512 v = _mm512_mul_ps(vs[h], vinv);
      const __mmask16 neg = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ);
      const __m512 r = _mm512_add_ps(v, _mm512_mask_sub_ps(half, neg, _mm512_setzero_ps(), half));
      q[h] = _mm512_max_epi32(_mm512_set1_epi32(-127), _mm512_min_epi32(_mm512_set1_epi32(127), _mm512_cvttps_epi32(r)));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(a.q.data() + i0 + 16 * h), _mm512_cvtepi32_epi8(q[h]));
    }
    const int32_t sum = _mm512_reduce_add_epi32(_mm512_add_epi32(q[0], q[1]));
    a.d[b] = d;
    a.sum[b] = sum;
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(a.corr_lanes.data() + b * 8), _mm256_set1_epi32(-16 * sum));
  }
}

void F32RowsAvx512(const uint8_t* w, size_t row_bytes, size_t rows, const void* x, size_t n, float* out) {
  DotRowsAvx512(reinterpret_cast<const float*>(w), row_bytes / sizeof(float), rows, static_cast<const float*>(x), n,
                out);
}

void Bf16RowsAvx512(const uint8_t* w, size_t row_bytes, size_t rows, const void* x, size_t n, float* out) {
  // Widened 16 values at a time (zero-extend, shift into the high half: exact). A variant that kept two
  // values per 32-bit lane (shift / mask against x split into even and odd elements once per call) was
  // 5-7% slower per decode step once rows were handed out in chunks (interleaved A/B, llama-110m, 2
  // threads): it splits x again for every chunk, and in L2 it reads at ~77 GB/s per thread against ~99.
  // With x split once per mat-vec instead, it streamed from DRAM at half this kernel's rate (one thread,
  // a stand-alone test). AVX-512 BF16's dpbf16ps against x split once into bf16 hi + lo multiplies
  // faster in L2 but streamed slower from DRAM, its decode steps 1.5 times as long (BENCHMARKS.md, "What
  // this says about the targets").
  HalfRowsAll<Bf16Load>(w, row_bytes, rows, static_cast<const float*>(x), n, out);
}

void F16RowsAvx512(const uint8_t* w, size_t row_bytes, size_t rows, const void* x, size_t n, float* out) {
  HalfRowsAll<F16Load>(w, row_bytes, rows, static_cast<const float*>(x), n, out);
}

void Q8RowsAvx512(const uint8_t* w, size_t row_bytes, size_t rows, const void* x, size_t n, float* out) {
  const auto& a = *static_cast<const Q8Activation*>(x);
  const size_t ahead = PrefetchRows(kQ8PrefetchBytes, row_bytes);
  size_t r = 0;
  for (; r + 4 <= rows; r += 4) {
    const uint8_t* rw = w + r * row_bytes;
    Q8Rows<4>(rw, row_bytes, a, n, out + r, rw + ahead * row_bytes);
  }
  for (; r < rows; ++r) Q8Rows<1>(w + r * row_bytes, row_bytes, a, n, out + r, w + r * row_bytes);
}

}  // namespace kvlab::kernels
