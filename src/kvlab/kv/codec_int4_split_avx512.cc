// AVX-512 int4 attention kernels for groups of a multiple of 32 channels (the default group is 32), by
// splitting each row's nibbles into even and odd channels (see below). Other int4 shapes take the kernels
// in codec_kernels_avx512.cc.
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "kvlab/kv/codec_avx512_inline.h"
#include "kvlab/kv/codec_kernels.h"
#include "kvlab/kv/codec_layout.h"

namespace kvlab::kernels {

namespace {

using codec_layout::LoadScale;

// int4 rows whose groups are a multiple of 32 channels (the default is 32), n = 32·C <= 128: the codes of
// a 32-channel chunk are 16 bytes whose low nibbles are the chunk's even channels and whose high nibbles
// its odd ones. Keeping them apart (q split into even/odd once per call; the output re-interleaved once
// at the end) costs 32 channels two masks, one shift and two widenings to f32, where Int4Codes
// re-interleaves every 16 values. Measured on one thread, head_dim 64, group 32, 4096 rows: keys 6.1 -> 2.2
// ns/row, values 4.3 -> 1.9 ns/row, in L2 and from memory alike (the old kernels were bound by arithmetic);
// the int4 cache's attention at depth 4096 in a decode step: 4.1 -> 2.5 ms.
namespace int4_split {

// Chunk c's even channels (e[c]) and odd channels (o[c]) as f32, two chunks per 32-byte load.
template <int C>
inline void Unpack(const uint8_t* codes, __m512* e, __m512* o) {
  const auto widen = [](__m128i b) { return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(b)); };
#pragma GCC unroll 4
  for (int c = 0; c + 1 < C; c += 2) {
    const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(codes + 16 * c));
    const __m256i lo = _mm256_and_si256(b, _mm256_set1_epi8(0x0f));
    const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(b, 4), _mm256_set1_epi8(0x0f));
    e[c] = widen(_mm256_castsi256_si128(lo));
    o[c] = widen(_mm256_castsi256_si128(hi));
    e[c + 1] = widen(_mm256_extracti128_si256(lo, 1));
    o[c + 1] = widen(_mm256_extracti128_si256(hi, 1));
  }
  if constexpr (C % 2 == 1) {
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(codes + 16 * (C - 1)));
    e[C - 1] = widen(_mm_and_si128(b, _mm_set1_epi8(0x0f)));
    o[C - 1] = widen(_mm_and_si128(_mm_srli_epi16(b, 4), _mm_set1_epi8(0x0f)));
  }
}

// A row of C chunks in groups of kGroupChunks chunks (both compile-time, so the group of every chunk is
// known when the kernel is built: with them at run time the kernels were ~35% slower). Every loop over
// chunks or groups is unrolled so the per-chunk arrays stay in registers: GCC kept the accumulators of
// C = 3, 4 on the stack otherwise.
template <int C, int kGroupChunks>
struct Shape {
  static_assert(C >= 1 && C <= 4 && kGroupChunks >= 1 && C % kGroupChunks == 0);
  static constexpr int kGroups = C / kGroupChunks;
  static constexpr int GroupOf(int chunk) { return chunk / kGroupChunks; }
};

// q's even (qe) and odd (qo) channels of each chunk.
template <int C>
inline void SplitQuery(const float* q, __m512 (&qe)[C], __m512 (&qo)[C]) {
#pragma GCC unroll 4
  for (int c = 0; c < C; ++c) {
    alignas(64) float even[16], odd[16];
    for (int i = 0; i < 16; ++i) {
      even[i] = q[32 * c + 2 * i];
      odd[i] = q[32 * c + 2 * i + 1];
    }
    qe[c] = _mm512_load_ps(even);
    qo[c] = _mm512_load_ps(odd);
  }
}

template <int C, int kGroupChunks>
void DotRows(const uint8_t* rows, size_t row_bytes, size_t count, const float* q, float* out) {
  using S = Shape<C, kGroupChunks>;
  __m512 qe[C], qo[C];
  SplitQuery<C>(q, qe, qo);
  float q_sum[S::kGroups] = {};  // per group, for the minimum term: dot = s·Σ c_i q_i + m·Σ q_i
#pragma GCC unroll 4
  for (int c = 0; c < C; ++c) q_sum[S::GroupOf(c)] += _mm512_reduce_add_ps(_mm512_add_ps(qe[c], qo[c]));
  BatchedRowDots(rows, row_bytes, count, out, [&](const uint8_t* row, float* min_term) {
    __m512 e[C], o[C];
    Unpack<C>(row + 8 * S::kGroups, e, o);
    __m512 acc = _mm512_setzero_ps();
    float m = 0;
#pragma GCC unroll 4
    for (int g = 0; g < S::kGroups; ++g) {
      float scale, mn;
      LoadScale(row, static_cast<size_t>(g), &scale, &mn);
      __m512 t = _mm512_setzero_ps();
#pragma GCC unroll 4
      for (int c = g * kGroupChunks; c < (g + 1) * kGroupChunks; ++c) {
        t = _mm512_fmadd_ps(e[c], qe[c], _mm512_fmadd_ps(o[c], qo[c], t));
      }
      acc = _mm512_fmadd_ps(t, _mm512_set1_ps(scale), acc);
      m += mn * q_sum[g];
    }
    *min_term = m;
    return acc;
  });
}

// Rows of codes only (per-channel key blocks, kv/channel_key_blocks.h): out[j] = Σ_c code_jc · qs_c.
template <int C>
void CodeDotRows(const uint8_t* rows, size_t row_bytes, size_t count, const float* qs, float* out) {
  __m512 qe[C], qo[C];
  SplitQuery<C>(qs, qe, qo);
  BatchedRowDots(rows, row_bytes, count, out, [&](const uint8_t* row, float* min_term) {
    __m512 e[C], o[C];
    Unpack<C>(row, e, o);
    __m512 acc = _mm512_setzero_ps();
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) acc = _mm512_fmadd_ps(e[c], qe[c], _mm512_fmadd_ps(o[c], qo[c], acc));
    *min_term = 0;
    return acc;
  });
}

template <int C, int kGroupChunks>
void WeightedSum(const uint8_t* rows, size_t row_bytes, size_t count, const float* p, float* y) {
  using S = Shape<C, kGroupChunks>;
  __m512 acc_e[C], acc_o[C];
#pragma GCC unroll 4
  for (int c = 0; c < C; ++c) acc_e[c] = acc_o[c] = _mm512_setzero_ps();
  float min_sum[S::kGroups] = {};  // per group: Σ_j p_j · min of row j's group
  for (size_t j = 0; j < count; ++j) {
    const uint8_t* row = rows + j * row_bytes;
    _mm_prefetch(reinterpret_cast<const char*>(row + kRowsAhead * row_bytes), _MM_HINT_T0);
    if (p[j] == 0.0f) continue;  // masked slot: its row does not count
    __m512 e[C], o[C];
    Unpack<C>(row + 8 * S::kGroups, e, o);
#pragma GCC unroll 4
    for (int g = 0; g < S::kGroups; ++g) {
      float scale, mn;
      LoadScale(row, static_cast<size_t>(g), &scale, &mn);
      min_sum[g] += p[j] * mn;
      const __m512 w = _mm512_set1_ps(p[j] * scale);
#pragma GCC unroll 4
      for (int c = g * kGroupChunks; c < (g + 1) * kGroupChunks; ++c) {
        acc_e[c] = _mm512_fmadd_ps(w, e[c], acc_e[c]);
        acc_o[c] = _mm512_fmadd_ps(w, o[c], acc_o[c]);
      }
    }
  }
  // Channels 32c + 2i (even) and 32c + 2i + 1 (odd) back in order.
  const __m512i first = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i second = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
#pragma GCC unroll 4
  for (int c = 0; c < C; ++c) {
    const __m512 m = _mm512_set1_ps(min_sum[S::GroupOf(c)]);
    float* yc = y + 32 * c;
    const __m512 lo = _mm512_add_ps(_mm512_permutex2var_ps(acc_e[c], first, acc_o[c]), m);
    const __m512 hi = _mm512_add_ps(_mm512_permutex2var_ps(acc_e[c], second, acc_o[c]), m);
    _mm512_storeu_ps(yc, _mm512_add_ps(_mm512_loadu_ps(yc), lo));
    _mm512_storeu_ps(yc + 16, _mm512_add_ps(_mm512_loadu_ps(yc + 16), hi));
  }
}

// Calls f(Shape<C, G>{}) when n = 32·C (C <= 4) and group = 32·G divides n; false for any other shape.
template <int C, int G, typename F>
bool CallIf(size_t chunks, size_t group_chunks, F& f) {
  if (chunks != C || group_chunks != G) return false;
  f(Shape<C, G>{});
  return true;
}
template <typename F>
bool WithShape(size_t n, size_t group, F&& f) {
  if (n % 32 != 0 || group % 32 != 0 || n % group != 0) return false;
  const size_t c = n / 32, g = group / 32;
  return CallIf<1, 1>(c, g, f) || CallIf<2, 1>(c, g, f) || CallIf<2, 2>(c, g, f) || CallIf<3, 1>(c, g, f) ||
         CallIf<3, 3>(c, g, f) || CallIf<4, 1>(c, g, f) || CallIf<4, 2>(c, g, f) || CallIf<4, 4>(c, g, f);
}
}  // namespace int4_split

}  // namespace

bool DotRowsInt4SplitAvx512(const uint8_t* rows, size_t row_bytes, size_t count, const float* q, size_t n,
                            size_t group, float* out) {
  return int4_split::WithShape(n, group, [&]<int C, int G>(int4_split::Shape<C, G>) {
    int4_split::DotRows<C, G>(rows, row_bytes, count, q, out);
  });
}

bool WeightedSumInt4SplitAvx512(const uint8_t* rows, size_t row_bytes, size_t count, const float* p, float* y,
                                size_t n, size_t group) {
  return int4_split::WithShape(n, group, [&]<int C, int G>(int4_split::Shape<C, G>) {
    int4_split::WeightedSum<C, G>(rows, row_bytes, count, p, y);
  });
}

bool CodeDotRowsInt4SplitAvx512(const uint8_t* rows, size_t row_bytes, size_t count, const float* qs,
                                size_t n, float* out) {
  if (n == 32) {
    int4_split::CodeDotRows<1>(rows, row_bytes, count, qs, out);
  } else if (n == 64) {
    int4_split::CodeDotRows<2>(rows, row_bytes, count, qs, out);
  } else if (n == 96) {
    int4_split::CodeDotRows<3>(rows, row_bytes, count, qs, out);
  } else if (n == 128) {
    int4_split::CodeDotRows<4>(rows, row_bytes, count, qs, out);
  } else {
    return false;
  }
  return true;
}

}  // namespace kvlab::kernels
