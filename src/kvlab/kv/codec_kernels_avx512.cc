// AVX-512 kernels for int8 / int4 rows (layout in kv/codec.h). Per group: codes are widened 16 at a time
// to f32 and multiplied into the query (dot) or added to the output (axpy) with the group's scale and
// minimum applied once per group, as the scalar kernels do: dot = s·Σ c_i q_i + m·Σ q_i.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kvlab/kv/codec_kernels.h"
#include "kvlab/kv/codec_layout.h"
#include "kvlab/ops/avx512_inline.h"
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

// out[j] = the dot of row j, for `count` rows: row_dot(row, &min_term) returns a row's 16 partial sums
// (already scaled) and sets its per-group minimum term. 16 rows at a time share one reduction
// (FoldQuad / FoldQuads) instead of one horizontal sum per row; rows kRowsAhead ahead are requested.
template <typename RowDot>
inline void BatchedRowDots(const uint8_t* rows, size_t row_bytes, size_t count, float* out, RowDot&& row_dot) {
  size_t j = 0;
  for (; j + 16 <= count; j += 16) {
    const uint8_t* r = rows + j * row_bytes;
    for (size_t b = 0; b < 16 * row_bytes; b += 64) {
      _mm_prefetch(reinterpret_cast<const char*>(r + kRowsAhead * row_bytes + b), _MM_HINT_T0);
    }
    alignas(64) float min_terms[16];
    __m512 quad[4];
    for (size_t k = 0; k < 4; ++k) {
      const uint8_t* r4 = r + 4 * k * row_bytes;
      const __m512 a0 = row_dot(r4, &min_terms[4 * k]);
      const __m512 a1 = row_dot(r4 + row_bytes, &min_terms[4 * k + 1]);
      const __m512 a2 = row_dot(r4 + 2 * row_bytes, &min_terms[4 * k + 2]);
      const __m512 a3 = row_dot(r4 + 3 * row_bytes, &min_terms[4 * k + 3]);
      quad[k] = FoldQuad(a0, a1, a2, a3);
    }
    _mm512_storeu_ps(out + j, _mm512_add_ps(FoldQuads(quad[0], quad[1], quad[2], quad[3]), _mm512_load_ps(min_terms)));
  }
  for (; j < count; ++j) {
    float min_term;
    const __m512 acc = row_dot(rows + j * row_bytes, &min_term);
    out[j] = _mm512_reduce_add_ps(acc) + min_term;
  }
}

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
  __m512 acc[V];
  for (int k = 0; k < V; ++k) acc[k] = _mm512_setzero_ps();
  float min_sum[V] = {};  // per group: sum_j p[j] * min of row j's group
  for (size_t j = 0; j < count; ++j) {
    const uint8_t* row = rows + j * row_bytes;
    _mm_prefetch(reinterpret_cast<const char*>(row + kRowsAhead * row_bytes), _MM_HINT_T0);
    if (p[j] == 0.0f) continue;
    const uint8_t* codes = row + 8 * groups;
    for (size_t g = 0; g < groups; ++g) {
      float scale, mn;
      LoadScale(row, g, &scale, &mn);
      const __m512 ps = _mm512_set1_ps(p[j] * scale);
      min_sum[g] += p[j] * mn;
      for (size_t k = g * per_group; k < std::min<size_t>(V, (g + 1) * per_group); ++k) {
        acc[k] = _mm512_fmadd_ps(ps, kCodes(codes, 16 * k, 16), acc[k]);
      }
    }
  }
  for (int k = 0; k < V; ++k) {
    const __m512 total = _mm512_add_ps(acc[k], _mm512_set1_ps(min_sum[static_cast<size_t>(k) / per_group]));
    _mm512_storeu_ps(y + 16 * k, _mm512_add_ps(_mm512_loadu_ps(y + 16 * k), total));
  }
}

// int4 rows whose groups are a multiple of 32 channels (the default is 32), n = 32·C <= 128: the codes of
// a 32-channel chunk are 16 bytes whose low nibbles are the chunk's even channels and whose high nibbles
// its odd ones. Keeping them apart (q split into even/odd once per call; the output re-interleaved once
// at the end) turns a chunk into 2 masks, 1 shift and 4 widenings, where Int4Codes re-interleaves every 16
// values. Measured on one thread, head_dim 64, group 32, 4096 rows: keys 6.1 -> 2.3 ns/row, values
// 4.3 -> 1.6 ns/row, in L2 and from memory alike (the old kernels were bound by arithmetic).
namespace int4_split {

// Chunk c's even channels (e[c]) and odd channels (o[c]) as f32, two chunks per 32-byte load.
template <int C>
inline void Unpack(const uint8_t* codes, __m512* e, __m512* o) {
  const auto widen = [](__m128i b) { return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(b)); };
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
// known when the kernel is built: with them at run time the kernels were ~35% slower).
template <int C, int kGroupChunks>
struct Shape {
  static_assert(C >= 1 && C <= 4 && kGroupChunks >= 1 && C % kGroupChunks == 0);
  static constexpr int kGroups = C / kGroupChunks;
  static constexpr int GroupOf(int chunk) { return chunk / kGroupChunks; }
};

template <int C, int kGroupChunks>
void DotRows(const uint8_t* rows, size_t row_bytes, size_t count, const float* q, float* out) {
  using S = Shape<C, kGroupChunks>;
  __m512 qe[C], qo[C];             // q's even / odd channels of each chunk
  float q_sum[S::kGroups] = {};    // per group, for the minimum term: dot = s·Σ c_i q_i + m·Σ q_i
  for (int c = 0; c < C; ++c) {
    alignas(64) float even[16], odd[16];
    for (int i = 0; i < 16; ++i) {
      even[i] = q[32 * c + 2 * i];
      odd[i] = q[32 * c + 2 * i + 1];
    }
    qe[c] = _mm512_load_ps(even);
    qo[c] = _mm512_load_ps(odd);
    q_sum[S::GroupOf(c)] += _mm512_reduce_add_ps(_mm512_add_ps(qe[c], qo[c]));
  }
  BatchedRowDots(rows, row_bytes, count, out, [&](const uint8_t* row, float* min_term) {
    __m512 e[C], o[C];
    Unpack<C>(row + 8 * S::kGroups, e, o);
    __m512 acc = _mm512_setzero_ps();
    float m = 0;
    for (int g = 0; g < S::kGroups; ++g) {
      float scale, mn;
      LoadScale(row, static_cast<size_t>(g), &scale, &mn);
      __m512 t = _mm512_setzero_ps();
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

template <int C, int kGroupChunks>
void WeightedSum(const uint8_t* rows, size_t row_bytes, size_t count, const float* p, float* y) {
  using S = Shape<C, kGroupChunks>;
  __m512 acc_e[C], acc_o[C];
  for (int c = 0; c < C; ++c) acc_e[c] = acc_o[c] = _mm512_setzero_ps();
  float min_sum[S::kGroups] = {};  // per group: Σ_j p_j · min of row j's group
  for (size_t j = 0; j < count; ++j) {
    const uint8_t* row = rows + j * row_bytes;
    _mm_prefetch(reinterpret_cast<const char*>(row + kRowsAhead * row_bytes), _MM_HINT_T0);
    if (p[j] == 0.0f) continue;  // masked slot: its row does not count
    __m512 e[C], o[C];
    Unpack<C>(row + 8 * S::kGroups, e, o);
    for (int g = 0; g < S::kGroups; ++g) {
      float scale, mn;
      LoadScale(row, static_cast<size_t>(g), &scale, &mn);
      min_sum[g] += p[j] * mn;
      const __m512 w = _mm512_set1_ps(p[j] * scale);
      for (int c = g * kGroupChunks; c < (g + 1) * kGroupChunks; ++c) {
        acc_e[c] = _mm512_fmadd_ps(w, e[c], acc_e[c]);
        acc_o[c] = _mm512_fmadd_ps(w, o[c], acc_o[c]);
      }
    }
  }
  // Channels 32c + 2i (even) and 32c + 2i + 1 (odd) back in order.
  const __m512i first = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i second = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  for (int c = 0; c < C; ++c) {
    const __m512 m = _mm512_set1_ps(min_sum[S::GroupOf(c)]);
    float* yc = y + 32 * c;
    const __m512 lo = _mm512_add_ps(_mm512_permutex2var_ps(acc_e[c], first, acc_o[c]), m);
    const __m512 hi = _mm512_add_ps(_mm512_permutex2var_ps(acc_e[c], second, acc_o[c]), m);
    _mm512_storeu_ps(yc, _mm512_add_ps(_mm512_loadu_ps(yc), lo));
    _mm512_storeu_ps(yc + 16, _mm512_add_ps(_mm512_loadu_ps(yc + 16), hi));
  }
}

// Calls f(Shape<C, G>{}) for n = 32·C (C <= 4) and group = 32·G dividing n; false when the shape is not
// one of these.
template <typename F>
bool WithShape(size_t n, size_t group, F&& f) {
  if (n % 32 != 0 || group % 32 != 0 || n % group != 0) return false;
  switch (n / 32 * 8 + group / 32) {
    case 1 * 8 + 1: f(Shape<1, 1>{}); return true;
    case 2 * 8 + 1: f(Shape<2, 1>{}); return true;
    case 2 * 8 + 2: f(Shape<2, 2>{}); return true;
    case 3 * 8 + 1: f(Shape<3, 1>{}); return true;
    case 3 * 8 + 3: f(Shape<3, 3>{}); return true;
    case 4 * 8 + 1: f(Shape<4, 1>{}); return true;
    case 4 * 8 + 2: f(Shape<4, 2>{}); return true;
    case 4 * 8 + 4: f(Shape<4, 4>{}); return true;
    default: return false;
  }
}
}  // namespace int4_split

template <__m512 (*kCodes)(const uint8_t*, size_t, size_t), int kBits>
void DotRowsInt(const uint8_t* rows, size_t row_bytes, size_t count, const float* q, size_t n, size_t group,
                float* out) {
  if constexpr (kBits == 4) {
    const auto split = [&]<int C, int G>(int4_split::Shape<C, G>) {
      int4_split::DotRows<C, G>(rows, row_bytes, count, q, out);
    };
    if (int4_split::WithShape(n, group, split)) return;
  }
  const auto fast = [&](auto vecs) { DotRowsFast<kCodes, decltype(vecs)::value>(rows, row_bytes, count, q, n, group, out); };
  if (n % 16 == 0 && group % 16 == 0 && WithVectorCount(n / 16, fast)) return;
  for (size_t j = 0; j < count; ++j) out[j] = DotInt<kCodes, kBits>(rows + j * row_bytes, q, n, group);
}

template <__m512 (*kCodes)(const uint8_t*, size_t, size_t), int kBits>
void WeightedSumInt(const uint8_t* rows, size_t row_bytes, size_t count, const float* p, float* y, size_t n,
                    size_t group) {
  if constexpr (kBits == 4) {
    const auto split = [&]<int C, int G>(int4_split::Shape<C, G>) {
      int4_split::WeightedSum<C, G>(rows, row_bytes, count, p, y);
    };
    if (int4_split::WithShape(n, group, split)) return;
  }
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
