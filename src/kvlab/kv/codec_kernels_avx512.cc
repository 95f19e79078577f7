// AVX-512 kernels for int8 / int4 rows (layout in kv/codec.h). Per group: codes are widened 16 at a time
// to f32 and multiplied into the query (dot) or added to the output (axpy) with the group's scale and
// minimum applied once per group, as the scalar kernels do: dot = s·Σ c_i q_i + m·Σ q_i.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kvlab/kv/codec_avx512_inline.h"
#include "kvlab/kv/codec_kernels.h"
#include "kvlab/kv/codec_layout.h"
#include "kvlab/ops/vector_count_dispatch.h"

namespace kvlab::kernels {

namespace {

using codec_layout::Groups;
using codec_layout::LoadScale;

// 16 codes starting at element i (i even for int4) as f32. `count` <= 16 lanes are loaded; the rest are 0.
__m512 Int8Codes(const uint8_t* codes, size_t i, size_t count) {
  const __mmask16 m = static_cast<__mmask16>((1u << count) - 1u);
  return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, codes + i)));
}

__m512 Int4Codes(const uint8_t* codes, size_t i, size_t count) {
  // Element i is the low nibble of byte i/2 when i is even: 16 elements = 8 bytes, interleaved lo/hi.
  const __mmask16 m = static_cast<__mmask16>((1u << ((count + 1) / 2)) - 1u);
  const __m128i bytes = _mm_maskz_loadu_epi8(m, codes + i / 2);
  const __m128i lo = _mm_and_si128(bytes, _mm_set1_epi8(0x0f));
  const __m128i hi = _mm_and_si128(_mm_srli_epi16(bytes, 4), _mm_set1_epi8(0x0f));
  __m512 v = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_unpacklo_epi8(lo, hi)));
  if (count < 16) v = _mm512_maskz_mov_ps(static_cast<__mmask16>((1u << count) - 1u), v);
  return v;
}

template <__m512 (*kCodes)(const uint8_t*, size_t, size_t), int kBits>
float DotInt(const uint8_t* row, const float* q, size_t n, size_t group) {
  const size_t groups = Groups(n, group);
  const uint8_t* codes = row + 8 * groups;
  float total = 0;
  for (size_t g = 0; g < groups; ++g) {
    float scale, mn;
    LoadScale(row, g, &scale, &mn);
    const size_t lo = g * group, hi = lo + group < n ? lo + group : n;
    __m512 acc_c = _mm512_setzero_ps(), acc_q = _mm512_setzero_ps();
    float head_c = 0, head_q = 0;
    size_t i = lo;
    if (kBits == 4 && (i & 1)) {  // odd group start (odd group size): its first code is a high nibble
      head_c = static_cast<float>(codes[i / 2] >> 4) * q[i];
      head_q = q[i];
      ++i;
    }
    for (; i < hi; i += 16) {
      const size_t count = hi - i < 16 ? hi - i : 16;
      const __m512 qv = _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << count) - 1u), q + i);
      acc_c = _mm512_fmadd_ps(kCodes(codes, i, count), qv, acc_c);
      acc_q = _mm512_add_ps(acc_q, qv);
    }
    total += scale * (_mm512_reduce_add_ps(acc_c) + head_c) + mn * (_mm512_reduce_add_ps(acc_q) + head_q);
  }
  return total;
}

template <__m512 (*kCodes)(const uint8_t*, size_t, size_t), int kBits>
void AxpyInt(float a, const uint8_t* row, float* y, size_t n, size_t group) {
  const size_t groups = Groups(n, group);
  const uint8_t* codes = row + 8 * groups;
  for (size_t g = 0; g < groups; ++g) {
    float scale, mn;
    LoadScale(row, g, &scale, &mn);
    const __m512 as = _mm512_set1_ps(a * scale), am = _mm512_set1_ps(a * mn);
    const size_t lo = g * group, hi = lo + group < n ? lo + group : n;
    size_t i = lo;
    if (kBits == 4 && (i & 1)) {  // odd group start: a high nibble first
      y[i] += a * mn + a * scale * static_cast<float>(codes[i / 2] >> 4);
      ++i;
    }
    for (; i < hi; i += 16) {
      const size_t count = hi - i < 16 ? hi - i : 16;
      const __mmask16 m = static_cast<__mmask16>((1u << count) - 1u);
      const __m512 yv = _mm512_maskz_loadu_ps(m, y + i);
      _mm512_mask_storeu_ps(y + i, m, _mm512_add_ps(yv, _mm512_fmadd_ps(as, kCodes(codes, i, count), am)));
    }
  }
}

// Row-batched fast path: V = n / 16 vectors per row (n <= 128), groups of a multiple of 16 channels, so
// every vector lies inside one group. Rows ~16 ahead are prefetched (the codes of a head are one stream).
constexpr size_t kRowsAhead = 16;

template <__m512 (*kCodes)(const uint8_t*, size_t, size_t), int V>
void DotRowsFast(const uint8_t* rows, size_t row_bytes, size_t count, const float* q, size_t n, size_t group,
                 float* out) {
  const size_t groups = Groups(n, group), per_group = group / 16;
  __m512 qv[V];
  for (int k = 0; k < V; ++k) qv[k] = _mm512_loadu_ps(q + 16 * k);
  float qsum[V];  // per group (at most V groups): sum of q over its channels, for the min term
  for (size_t g = 0; g < groups; ++g) {
    __m512 s = _mm512_setzero_ps();
    for (size_t k = g * per_group; k < std::min<size_t>(V, (g + 1) * per_group); ++k) s = _mm512_add_ps(s, qv[k]);
    qsum[g] = _mm512_reduce_add_ps(s);
  }
  BatchedRowDots(rows, row_bytes, count, out, [&](const uint8_t* row, float* min_term) {
    const uint8_t* codes = row + 8 * groups;
    __m512 acc = _mm512_setzero_ps();
    float m = 0;
    for (size_t g = 0; g < groups; ++g) {
      float scale, mn;
      LoadScale(row, g, &scale, &mn);
      __m512 t = _mm512_setzero_ps();
      for (size_t k = g * per_group; k < std::min<size_t>(V, (g + 1) * per_group); ++k) {
        t = _mm512_fmadd_ps(kCodes(codes, 16 * k, 16), qv[k], t);
      }
      acc = _mm512_fmadd_ps(t, _mm512_set1_ps(scale), acc);
      m += mn * qsum[g];
    }
    *min_term = m;
    return acc;
  });
}

template <__m512 (*kCodes)(const uint8_t*, size_t, size_t), int V>
void WeightedSumFast(const uint8_t* rows, size_t row_bytes, size_t count, const float* p, float* y, size_t n,
                     size_t group) {
  const size_t groups = Groups(n, group), per_group = group / 16;
  // Every loop over the V vectors has a compile-time count and is unrolled, so acc[] stays in registers
  // (looping per group, GCC kept it on the stack: a store-to-load chain through every row).
  uint8_t group_of[V];  // vector k lies in group group_of[k]
  __m512 acc[V];
#pragma GCC unroll 8
  for (int k = 0; k < V; ++k) {
    group_of[k] = static_cast<uint8_t>(static_cast<size_t>(k) / per_group);
    acc[k] = _mm512_setzero_ps();
  }
  float min_sum[V] = {};  // per group: sum_j p[j] * min of row j's group
  for (size_t j = 0; j < count; ++j) {
    const uint8_t* row = rows + j * row_bytes;
    _mm_prefetch(reinterpret_cast<const char*>(row + kRowsAhead * row_bytes), _MM_HINT_T0);
    if (p[j] == 0.0f) continue;
    const uint8_t* codes = row + 8 * groups;
    float ps[V];  // per group: p_j · scale
    for (size_t g = 0; g < groups; ++g) {
      float scale, mn;
      LoadScale(row, g, &scale, &mn);
      ps[g] = p[j] * scale;
      min_sum[g] += p[j] * mn;
    }
#pragma GCC unroll 8
    for (int k = 0; k < V; ++k) {
      acc[k] = _mm512_fmadd_ps(_mm512_set1_ps(ps[group_of[k]]), kCodes(codes, 16 * k, 16), acc[k]);
    }
  }
#pragma GCC unroll 8
  for (int k = 0; k < V; ++k) {
    const __m512 total = _mm512_add_ps(acc[k], _mm512_set1_ps(min_sum[group_of[k]]));
    _mm512_storeu_ps(y + 16 * k, _mm512_add_ps(_mm512_loadu_ps(y + 16 * k), total));
  }
}

template <__m512 (*kCodes)(const uint8_t*, size_t, size_t), int kBits>
void DotRowsInt(const uint8_t* rows, size_t row_bytes, size_t count, const float* q, size_t n, size_t group,
                float* out) {
  if (kBits == 4 && DotRowsInt4SplitAvx512(rows, row_bytes, count, q, n, group, out)) return;
  if (kBits == 8 && DotRowsLanesAvx512(8, rows, row_bytes, count, q, n, group, out)) return;
  const auto fast = [&](auto vecs) { DotRowsFast<kCodes, decltype(vecs)::value>(rows, row_bytes, count, q, n, group, out); };
  if (n % 16 == 0 && group % 16 == 0 && WithVectorCount(n / 16, fast)) return;
  for (size_t j = 0; j < count; ++j) out[j] = DotInt<kCodes, kBits>(rows + j * row_bytes, q, n, group);
}

template <__m512 (*kCodes)(const uint8_t*, size_t, size_t), int kBits>
void WeightedSumInt(const uint8_t* rows, size_t row_bytes, size_t count, const float* p, float* y, size_t n,
                    size_t group) {
  if (kBits == 4 && WeightedSumInt4SplitAvx512(rows, row_bytes, count, p, y, n, group)) return;
  if (kBits == 8 && WeightedSumLanesAvx512(8, rows, row_bytes, count, p, y, n, group)) return;
  const auto fast = [&](auto vecs) { WeightedSumFast<kCodes, decltype(vecs)::value>(rows, row_bytes, count, p, y, n, group); };
  if (n % 16 == 0 && group % 16 == 0 && WithVectorCount(n / 16, fast)) return;
  for (size_t j = 0; j < count; ++j) {
    if (p[j] != 0.0f) AxpyInt<kCodes, kBits>(p[j], rows + j * row_bytes, y, n, group);
  }
}

}  // namespace

void DotRowsInt8Avx512(const uint8_t* rows, size_t row_bytes, size_t count, const float* q, size_t n, size_t group,
                       float* out) {
  DotRowsInt<Int8Codes, 8>(rows, row_bytes, count, q, n, group, out);
}
void WeightedSumInt8Avx512(const uint8_t* rows, size_t row_bytes, size_t count, const float* p, float* y, size_t n,
                           size_t group) {
  WeightedSumInt<Int8Codes, 8>(rows, row_bytes, count, p, y, n, group);
}
void DotRowsInt4Avx512(const uint8_t* rows, size_t row_bytes, size_t count, const float* q, size_t n, size_t group,
                       float* out) {
  DotRowsInt<Int4Codes, 4>(rows, row_bytes, count, q, n, group, out);
}
void WeightedSumInt4Avx512(const uint8_t* rows, size_t row_bytes, size_t count, const float* p, float* y, size_t n,
                           size_t group) {
  WeightedSumInt<Int4Codes, 4>(rows, row_bytes, count, p, y, n, group);
}

float DotInt8Avx512(const uint8_t* row, const float* q, size_t n, size_t group) {
  return DotInt<Int8Codes, 8>(row, q, n, group);
}
void AxpyInt8Avx512(float a, const uint8_t* row, float* y, size_t n, size_t group) {
  AxpyInt<Int8Codes, 8>(a, row, y, n, group);
}
float DotInt4Avx512(const uint8_t* row, const float* q, size_t n, size_t group) {
  return DotInt<Int4Codes, 4>(row, q, n, group);
}
void AxpyInt4Avx512(float a, const uint8_t* row, float* y, size_t n, size_t group) {
  AxpyInt<Int4Codes, 4>(a, row, y, n, group);
}

}  // namespace kvlab::kernels
