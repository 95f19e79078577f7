// AVX-512 int8 and int2 attention kernels for n = 64 or 128 channels in whole groups of a multiple of 16
// (the default group is 32). Other shapes take the kernels in codec_kernels_avx512.cc (int8) or the
// portable ones (int2).
//
// A row's codes are read 64 channels at a time as 16 32-bit lanes holding channels 4i .. 4i + 3 each:
// for int8 the 64 bytes as they are (channel 4i + k is byte k of lane i), for int2 the 16 bytes widened to
// one per lane (channel 4i + k is bits 2k, 2k + 1). A shift and a mask then give the 16 channels
// {4i + k} without a cross-lane shuffle per 16 values, and q is split the same way once per call (the
// output is put back in order once at the end). A lane never straddles a group, so each lane's scale and
// minimum come from the row's header by one permute each. Measured on one thread, head_dim 64, group 32,
// 4096 rows: int8 keys 3.0 -> 2.1 ns/row, values 4.4 -> 1.7 ns/row; int2 (which had only the portable
// per-row kernels) keys 58 -> 2.2 ns/row, values 40 -> 1.9 ns/row.
//
// The accumulators are fixed-size arrays indexed only by unrolled loops: when GCC cannot scalarize such an
// array it keeps it on the stack, and a store-to-load chain through every row made values 2.5x slower.
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "kvlab/kv/codec_avx512_inline.h"
#include "kvlab/kv/codec_kernels.h"

namespace kvlab::kernels {

namespace {

// Where each lane's scale and minimum sit in the row header ([groups × {scale, min}] floats).
template <int Z>
struct LaneParams {
  __mmask16 header;  // the header's floats (2 per group, at most 16)
  __m512i scale[Z];  // per 64-byte block z: header index of each lane's scale
  __m512i min[Z];    // ... and of its minimum
  size_t header_bytes;

  explicit LaneParams(size_t group) {
    const size_t groups = 64 * Z / group;
    header = static_cast<__mmask16>((1u << (2 * groups)) - 1u);
    header_bytes = 8 * groups;
#pragma GCC unroll 2
    for (int z = 0; z < Z; ++z) {
      alignas(64) int32_t s[16], m[16];
      for (int i = 0; i < 16; ++i) {
        const int g = static_cast<int>((64 * static_cast<size_t>(z) + 4 * static_cast<size_t>(i)) / group);
        s[i] = 2 * g;
        m[i] = 2 * g + 1;
      }
      scale[z] = _mm512_load_si512(s);
      min[z] = _mm512_load_si512(m);
    }
  }
};

// Channels 64z .. 64z + 63 of a row's codes as 16 lanes of 4 codes each.
template <int kBits>
inline __m512i LoadBlock(const uint8_t* codes, int z) {
  if constexpr (kBits == 8) {
    return _mm512_loadu_si512(codes + 64 * z);
  } else {
    static_assert(kBits == 2);
    return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(codes + 16 * z)));
  }
}

// Channels {4i + k} of a block as f32.
template <int kBits, int k>
inline __m512 Field(__m512i v) {
  // The top field needs no mask: int8 lanes are 32 bits, int2 lanes hold one byte.
  const __m512i shifted = _mm512_srli_epi32(v, kBits * k);
  if constexpr (k == 3) return _mm512_cvtepi32_ps(shifted);
  return _mm512_cvtepi32_ps(_mm512_and_si512(shifted, _mm512_set1_epi32((1 << kBits) - 1)));
}

// q split like the codes: qk[z][k] lane i = q[64z + 4i + k].
template <int Z>
inline void SplitQuery(const float* q, __m512 (&qk)[Z][4]) {
#pragma GCC unroll 2
  for (int z = 0; z < Z; ++z) {
#pragma GCC unroll 4
    for (int k = 0; k < 4; ++k) {
      alignas(64) float split[16];
      for (int i = 0; i < 16; ++i) split[i] = q[64 * z + 4 * i + k];
      qk[z][k] = _mm512_load_ps(split);
    }
  }
}

// Lane i: Σ_k code(4i + k)·qk over one 64-channel block.
template <int kBits>
inline __m512 BlockDot(__m512i v, const __m512 (&qk)[4]) {
  __m512 t = _mm512_mul_ps(Field<kBits, 0>(v), qk[0]);
  t = _mm512_fmadd_ps(Field<kBits, 1>(v), qk[1], t);
  t = _mm512_fmadd_ps(Field<kBits, 2>(v), qk[2], t);
  return _mm512_fmadd_ps(Field<kBits, 3>(v), qk[3], t);
}

template <int kBits, int Z>
void DotRows(const uint8_t* rows, size_t row_bytes, size_t count, const float* q, size_t group, float* out) {
  const LaneParams<Z> lanes(group);
  __m512 qk[Z][4], q_sum[Z];  // q split like the codes; q_sum: Σ_k qk, for the minimum term
  SplitQuery<Z>(q, qk);
#pragma GCC unroll 2
  for (int z = 0; z < Z; ++z) {
    q_sum[z] = _mm512_add_ps(_mm512_add_ps(qk[z][0], qk[z][1]), _mm512_add_ps(qk[z][2], qk[z][3]));
  }
  // Lane i of a row: scale · Σ_k code·q + min · Σ_k q over its 4 channels, so the minimum needs no
  // separate term.
  BatchedRowDots(rows, row_bytes, count, out, [&](const uint8_t* row, float* min_term) {
    const __m512 header = _mm512_maskz_loadu_ps(lanes.header, row);
    __m512 acc = _mm512_setzero_ps();
#pragma GCC unroll 2
    for (int z = 0; z < Z; ++z) {
      const __m512 t = BlockDot<kBits>(LoadBlock<kBits>(row + lanes.header_bytes, z), qk[z]);
      const __m512 min_part = _mm512_mul_ps(_mm512_permutexvar_ps(lanes.min[z], header), q_sum[z]);
      acc = _mm512_add_ps(acc, _mm512_fmadd_ps(t, _mm512_permutexvar_ps(lanes.scale[z], header), min_part));
    }
    *min_term = 0;  // folded into the lanes above
    return acc;
  });
}

// Rows of codes only (per-channel key blocks, kv/channel_key_blocks.h): out[j] = Σ_c code_jc · qs_c.
template <int kBits, int Z>
void CodeDotRows(const uint8_t* rows, size_t row_bytes, size_t count, const float* qs, float* out) {
  __m512 qk[Z][4];
  SplitQuery<Z>(qs, qk);
  BatchedRowDots(rows, row_bytes, count, out, [&](const uint8_t* row, float* min_term) {
    __m512 acc = _mm512_setzero_ps();
#pragma GCC unroll 2
    for (int z = 0; z < Z; ++z) acc = _mm512_add_ps(acc, BlockDot<kBits>(LoadBlock<kBits>(row, z), qk[z]));
    *min_term = 0;
    return acc;
  });
}

template <int kBits, int Z>
void WeightedSum(const uint8_t* rows, size_t row_bytes, size_t count, const float* p, float* y,
                 size_t group) {
  const LaneParams<Z> lanes(group);
  __m512 acc[Z][4], min_acc[Z];  // acc[z][k] lane i: channel 64z + 4i + k; min_acc: Σ_j p_j · min per lane
#pragma GCC unroll 2
  for (int z = 0; z < Z; ++z) {
    min_acc[z] = acc[z][0] = acc[z][1] = acc[z][2] = acc[z][3] = _mm512_setzero_ps();
  }
  for (size_t j = 0; j < count; ++j) {
    const uint8_t* row = rows + j * row_bytes;
    _mm_prefetch(reinterpret_cast<const char*>(row + kRowsAhead * row_bytes), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(row + kRowsAhead * row_bytes + 64), _MM_HINT_T0);
    if (p[j] == 0.0f) continue;  // masked slot: its row does not count
    const __m512 pj = _mm512_set1_ps(p[j]);
    const __m512 header = _mm512_maskz_loadu_ps(lanes.header, row);
#pragma GCC unroll 2
    for (int z = 0; z < Z; ++z) {
      const __m512i v = LoadBlock<kBits>(row + lanes.header_bytes, z);
      const __m512 w = _mm512_mul_ps(pj, _mm512_permutexvar_ps(lanes.scale[z], header));
      min_acc[z] = _mm512_fmadd_ps(pj, _mm512_permutexvar_ps(lanes.min[z], header), min_acc[z]);
      acc[z][0] = _mm512_fmadd_ps(w, Field<kBits, 0>(v), acc[z][0]);
      acc[z][1] = _mm512_fmadd_ps(w, Field<kBits, 1>(v), acc[z][1]);
      acc[z][2] = _mm512_fmadd_ps(w, Field<kBits, 2>(v), acc[z][2]);
      acc[z][3] = _mm512_fmadd_ps(w, Field<kBits, 3>(v), acc[z][3]);
    }
  }
  // Back in channel order: a 4 × 16 transpose per block (lane i of a0..a3 holds channels 4i..4i+3).
#pragma GCC unroll 2
  for (int z = 0; z < Z; ++z) {
    const __m512 a0 = _mm512_add_ps(acc[z][0], min_acc[z]), a1 = _mm512_add_ps(acc[z][1], min_acc[z]);
    const __m512 a2 = _mm512_add_ps(acc[z][2], min_acc[z]), a3 = _mm512_add_ps(acc[z][3], min_acc[z]);
    const __m512d t0 = _mm512_castps_pd(_mm512_unpacklo_ps(a0, a1)),
                  t1 = _mm512_castps_pd(_mm512_unpackhi_ps(a0, a1));
    const __m512d t2 = _mm512_castps_pd(_mm512_unpacklo_ps(a2, a3)),
                  t3 = _mm512_castps_pd(_mm512_unpackhi_ps(a2, a3));
    // u_r, 128-bit lane b: channels 16b + 4r .. 16b + 4r + 3.
    const __m512 u0 = _mm512_castpd_ps(_mm512_unpacklo_pd(t0, t2)),
                 u1 = _mm512_castpd_ps(_mm512_unpackhi_pd(t0, t2));
    const __m512 u2 = _mm512_castpd_ps(_mm512_unpacklo_pd(t1, t3)),
                 u3 = _mm512_castpd_ps(_mm512_unpackhi_pd(t1, t3));
    const __m512 lo01 = _mm512_shuffle_f32x4(u0, u1, 0x44), hi01 = _mm512_shuffle_f32x4(u0, u1, 0xee);
    const __m512 lo23 = _mm512_shuffle_f32x4(u2, u3, 0x44), hi23 = _mm512_shuffle_f32x4(u2, u3, 0xee);
    float* yz = y + 64 * z;
    _mm512_storeu_ps(yz, _mm512_add_ps(_mm512_loadu_ps(yz), _mm512_shuffle_f32x4(lo01, lo23, 0x88)));
    _mm512_storeu_ps(yz + 16,
                     _mm512_add_ps(_mm512_loadu_ps(yz + 16), _mm512_shuffle_f32x4(lo01, lo23, 0xdd)));
    _mm512_storeu_ps(yz + 32,
                     _mm512_add_ps(_mm512_loadu_ps(yz + 32), _mm512_shuffle_f32x4(hi01, hi23, 0x88)));
    _mm512_storeu_ps(yz + 48,
                     _mm512_add_ps(_mm512_loadu_ps(yz + 48), _mm512_shuffle_f32x4(hi01, hi23, 0xdd)));
  }
}

// Whether a row's groups suit the lane kernels: whole groups of a multiple of 16 channels, so that no
// 4-channel lane straddles two groups.
bool GroupsFit(size_t n, size_t group) { return group > 0 && group % 16 == 0 && n % group == 0; }

// Calls f(kBits, Z) as compile-time constants for bits = 8 or 2 and n = 64·Z, Z = 1 or 2; false, without
// calling it, for anything else.
template <typename F>
bool WithBitsAndBlocks(int bits, size_t n, F&& f) {
  if (n != 64 && n != 128) return false;
  const auto with_blocks = [&](auto b) {
    if (n == 64) {
      f(b, std::integral_constant<int, 1>{});
    } else {
      f(b, std::integral_constant<int, 2>{});
    }
  };
  if (bits == 8) {
    with_blocks(std::integral_constant<int, 8>{});
  } else if (bits == 2) {
    with_blocks(std::integral_constant<int, 2>{});
  } else {
    return false;
  }
  return true;
}

}  // namespace

bool DotRowsLanesAvx512(int bits, const uint8_t* rows, size_t row_bytes, size_t count, const float* q,
                        size_t n, size_t group, float* out) {
  return GroupsFit(n, group) && WithBitsAndBlocks(bits, n, [&](auto b, auto z) {
           DotRows<decltype(b)::value, decltype(z)::value>(rows, row_bytes, count, q, group, out);
         });
}

bool WeightedSumLanesAvx512(int bits, const uint8_t* rows, size_t row_bytes, size_t count, const float* p,
                            float* y, size_t n, size_t group) {
  return GroupsFit(n, group) && WithBitsAndBlocks(bits, n, [&](auto b, auto z) {
           WeightedSum<decltype(b)::value, decltype(z)::value>(rows, row_bytes, count, p, y, group);
         });
}

bool CodeDotRowsLanesAvx512(int bits, const uint8_t* rows, size_t row_bytes, size_t count, const float* qs,
                            size_t n, float* out) {
  return WithBitsAndBlocks(bits, n, [&](auto b, auto z) {
    CodeDotRows<decltype(b)::value, decltype(z)::value>(rows, row_bytes, count, qs, out);
  });
}

}  // namespace kvlab::kernels
