#include <immintrin.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "kvlab/ops/avx512_inline.h"
#include "kvlab/ops/gemm_kernels.h"
#include "kvlab/ops/matvec_kernels.h"
#include "kvlab/tensor/q8_rows.h"

namespace kvlab::kernels {

namespace {
constexpr size_t kLanes = 16;
constexpr int kMaxVectors = static_cast<int>(kGemmTokens / kLanes);

// table[rows - 1][vectors - 1] = pick.operator()<rows, vectors>(): a tile kernel instantiated for every
// row count up to Rows and every count of 16-token vectors, chosen at run time by the tile's shape.
template <typename Fn, int Rows, typename Pick>
constexpr auto KernelTable(Pick pick) {
  return [&]<size_t... R>(std::index_sequence<R...>) {
    const auto row = [&]<int MR, size_t... V>(std::index_sequence<V...>) {
      return std::array<Fn, kMaxVectors>{pick.template operator()<MR, static_cast<int>(V) + 1>()...};
    };
    return std::array<std::array<Fn, kMaxVectors>, Rows>{
        row.template operator()<static_cast<int>(R) + 1>(std::make_index_sequence<kMaxVectors>{})...};
  }
  (std::make_index_sequence<Rows>{});
}
// The vectors of 16 tokens that hold `count` tokens.
inline size_t TokenVectors(size_t count) { return (count + kLanes - 1) / kLanes; }

// In-register transpose of a 16 × 16 block of 32-bit values: r[i] lane j becomes r[j] lane i. Interleave
// pairs of rows, then pairs of pairs (64-bit), then move 128-bit lanes twice.
inline void Transpose16(__m512 r[16]) {
  __m512 t[16], u[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  // u[4g + c]: column c of each 128-bit lane (columns c, c+4, c+8, c+12), rows 4g .. 4g+3
  for (int g = 0; g < 4; ++g) {
    const __m512d a = _mm512_castps_pd(t[4 * g]), b = _mm512_castps_pd(t[4 * g + 1]);
    const __m512d c = _mm512_castps_pd(t[4 * g + 2]), d = _mm512_castps_pd(t[4 * g + 3]);
    u[4 * g + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
    u[4 * g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
    u[4 * g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
    u[4 * g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
  }
  for (int c = 0; c < 4; ++c) {
    // lanes (0, 2) and (1, 3) of rows 0-3 with rows 4-7, and of rows 8-11 with rows 12-15
    const __m512 v0 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x88),
                 v1 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xdd);
    const __m512 v2 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x88);
    const __m512 v3 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xdd);
    r[c] = _mm512_shuffle_f32x4(v0, v2, 0x88);       // lane 0 of every group of rows: column c
    r[c + 8] = _mm512_shuffle_f32x4(v0, v2, 0xdd);   // lane 2: column c + 8
    r[c + 4] = _mm512_shuffle_f32x4(v1, v3, 0x88);   // lane 1: column c + 4
    r[c + 12] = _mm512_shuffle_f32x4(v1, v3, 0xdd);  // lane 3: column c + 12
  }
}

// acc[r][v] over the whole row length: MR broadcasts and NV loads feed MR × NV FMAs per input. With MR = 6
// and NV = 4 that is 24 accumulators + 4 token vectors + 1 broadcast of the 32 registers.
// kUnit: inputs of a row are adjacent (weights); otherwise `step` floats apart (attention's values, read as
// rows of V^T).
template <int MR, int NV, bool kUnit>
void TileF32(const float* w, size_t ldw, size_t step, const float* xt, size_t k,
             float* out /* [kGemmRows][kGemmTokens] */) {
  __m512 acc[MR][NV];
  for (int r = 0; r < MR; ++r) {
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_ps();
  }
  for (size_t i = 0; i < k; ++i) {
    const float* xi = xt + i * kGemmTokens;
    __m512 xv[NV];
    for (int v = 0; v < NV; ++v) xv[v] = _mm512_load_ps(xi + kLanes * v);
    for (int r = 0; r < MR; ++r) {
      const __m512 wb = _mm512_set1_ps(w[r * ldw + (kUnit ? i : i * step)]);
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(wb, xv[v], acc[r][v]);
    }
  }
  for (int r = 0; r < MR; ++r) {
    for (int v = 0; v < NV; ++v) _mm512_store_ps(out + r * kGemmTokens + kLanes * v, acc[r][v]);
  }
}

using TileFn = void (*)(const float*, size_t, size_t, const float*, size_t, float*);
constexpr auto kTiles =
    KernelTable<TileFn, kGemmRows>([]<int MR, int NV>() { return &TileF32<MR, NV, true>; });
constexpr auto kStridedTiles =
    KernelTable<TileFn, kGemmRows>([]<int MR, int NV>() { return &TileF32<MR, NV, false>; });

// As TileF32 with bf16 pairs: per pair of inputs, each row's two weights are one broadcast 32-bit value.
template <int MR, int NV>
void TileBf16(const uint8_t* w, size_t row_bytes, const uint32_t* xt, size_t pairs,
              float* out /* [kGemmRows][kGemmTokens] */) {
  __m512 acc[MR][NV];
  for (int r = 0; r < MR; ++r) {
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_ps();
  }
  for (size_t i = 0; i < pairs; ++i) {
    const uint32_t* xi = xt + i * kGemmTokens;
    __m512bh xv[NV];
    for (int v = 0; v < NV; ++v) xv[v] = std::bit_cast<__m512bh>(_mm512_load_si512(xi + kLanes * v));
    for (int r = 0; r < MR; ++r) {
      int32_t pair;
      std::memcpy(&pair, w + r * row_bytes + 4 * i, 4);
      const __m512bh wb = std::bit_cast<__m512bh>(_mm512_set1_epi32(pair));
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_dpbf16_ps(acc[r][v], wb, xv[v]);
    }
  }
  for (int r = 0; r < MR; ++r) {
    for (int v = 0; v < NV; ++v) _mm512_store_ps(out + r * kGemmTokens + kLanes * v, acc[r][v]);
  }
}

using TileBf16Fn = void (*)(const uint8_t*, size_t, const uint32_t*, size_t, float*);
constexpr auto kBf16Tiles =
    KernelTable<TileBf16Fn, kGemmRows>([]<int MR, int NV>() { return &TileBf16<MR, NV>; });

thread_local std::vector<uint16_t> t_bf16_tokens;  // [kGemmTokens][k] a tile's tokens rounded to bf16

constexpr size_t kQuadsPerBlock = kQ8Block / 4;
constexpr size_t kQuadBytes = kGemmTokens * 4;  // one input quad of a tile's tokens: [kGemmTokens][4] int8

// Per block of 32 inputs: the integer dots of MR rows × NV token vectors start at the activation's offset
// correction and take 8 dpbusd each (4 inputs per lane, exact in int32); then each is converted once and
// scaled by d_w[row] · d_x[token] into the f32 sums.
template <int MR, int NV>
void TileQ8(const uint8_t* w, size_t row_bytes, const float* ws, size_t blocks, const Q8TokenTile& x,
            float* out /* [kGemmRowsQ8][kGemmTokens] */) {
  __m512 acc[MR][NV];
  for (int r = 0; r < MR; ++r) {
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_ps();
  }
  for (size_t b = 0; b < blocks; ++b) {
    __m512i dot[MR][NV];
    for (int v = 0; v < NV; ++v) {
      const __m512i corr = _mm512_load_si512(x.corr + b * kGemmTokens + kLanes * v);
      for (int r = 0; r < MR; ++r) dot[r][v] = corr;
    }
    const int8_t* xq = x.q + b * kQuadsPerBlock * kQuadBytes;
    for (size_t j = 0; j < kQuadsPerBlock; ++j) {
      __m512i xv[NV];
      for (int v = 0; v < NV; ++v) xv[v] = _mm512_load_si512(xq + j * kQuadBytes + 4 * kLanes * v);
      for (int r = 0; r < MR; ++r) {
        int32_t quad;
        std::memcpy(&quad, w + r * row_bytes + b * kQ8Block + 4 * j, 4);
        const __m512i wb = _mm512_set1_epi32(quad);
        for (int v = 0; v < NV; ++v) dot[r][v] = _mm512_dpbusd_epi32(dot[r][v], wb, xv[v]);
      }
    }
    for (int v = 0; v < NV; ++v) {
      const __m512 dx = _mm512_load_ps(x.d + b * kGemmTokens + kLanes * v);
      for (int r = 0; r < MR; ++r) {
        const __m512 scale = _mm512_mul_ps(_mm512_set1_ps(ws[r * blocks + b]), dx);
        acc[r][v] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot[r][v]), scale, acc[r][v]);
      }
    }
  }
  for (int r = 0; r < MR; ++r) {
    for (int v = 0; v < NV; ++v) _mm512_store_ps(out + r * kGemmTokens + kLanes * v, acc[r][v]);
  }
}

using TileQ8Fn = void (*)(const uint8_t*, size_t, const float*, size_t, const Q8TokenTile&, float*);
constexpr auto kQ8Tiles =
    KernelTable<TileQ8Fn, kGemmRowsQ8>([]<int MR, int NV>() { return &TileQ8<MR, NV>; });

thread_local Q8Activation t_token_q8;  // one token's quantized activation, reused
}  // namespace

void PackTokensAvx512(const float* x, size_t ldx, size_t count, size_t k, float* xt) {
  // Per group of 16 tokens and 16 inputs: 16 loads, one transpose, 16 stores. Only the vectors that hold
  // tokens are written: the kernels read no others.
  for (size_t v = 0; v < TokenVectors(count); ++v) {
    const size_t first = v * kLanes;
    const size_t tokens = std::min(kLanes, count - first);
    for (size_t i0 = 0; i0 < k; i0 += kLanes) {
      const __mmask16 inputs = TailMask(k - i0);
      __m512 r[kLanes];
      for (size_t t = 0; t < kLanes; ++t) {
        r[t] = t < tokens ? _mm512_maskz_loadu_ps(inputs, x + (first + t) * ldx + i0) : _mm512_setzero_ps();
      }
      Transpose16(r);
      for (size_t i = 0; i < std::min(kLanes, k - i0); ++i)
        _mm512_store_ps(xt + (i0 + i) * kGemmTokens + first, r[i]);
    }
  }
}

void StoreTileAvx512(const float* yt, size_t rows, size_t count, float* y, size_t ldy) {
  // Per group of 16 rows and 16 tokens: one transpose turns 16 rows' token vectors into 16 tokens' runs of
  // rows.
  for (size_t r0 = 0; r0 < rows; r0 += kLanes) {
    const size_t group_rows = std::min(kLanes, rows - r0);
    const __mmask16 row_mask = TailMask(group_rows);
    for (size_t t0 = 0; t0 < count; t0 += kLanes) {
      __m512 r[kLanes];
      for (size_t i = 0; i < kLanes; ++i) {
        r[i] = i < group_rows ? _mm512_load_ps(yt + (r0 + i) * kGemmTokens + t0) : _mm512_setzero_ps();
      }
      Transpose16(r);
      // Whole groups of 16 or 8 rows (a 24-row block is both) store without a mask: masked stores are
      // slow on some CPUs.
      for (size_t t = 0; t < std::min(kLanes, count - t0); ++t) {
        float* dst = y + (t0 + t) * ldy + r0;
        if (group_rows == kLanes) {
          _mm512_storeu_ps(dst, r[t]);
        } else if (group_rows == kLanes / 2) {
          _mm256_storeu_ps(dst, _mm512_castps512_ps256(r[t]));
        } else {
          _mm512_mask_storeu_ps(dst, row_mask, r[t]);
        }
      }
    }
  }
}

void GemmTileF32Avx512(const float* w, size_t ldw, size_t rows, const float* xt, size_t k, size_t count,
                       float* yt) {
  kTiles[rows - 1][TokenVectors(count) - 1](w, ldw, 1, xt, k, yt);
}

void GemmTileF32StridedAvx512(const float* w, size_t ldw, size_t step, size_t rows, const float* xt, size_t k,
                              size_t count, float* yt) {
  kStridedTiles[rows - 1][TokenVectors(count) - 1](w, ldw, step, xt, k, yt);
}

void PackTokensBf16Avx512(const float* x, size_t ldx, size_t count, size_t k, uint32_t* xt) {
  // Round each token to bf16 (nearest even, 32 values per instruction), then transpose its pairs as 32-bit
  // values with the f32 packer (a gather moves the bits unchanged).
  if (t_bf16_tokens.size() < count * k) t_bf16_tokens.resize(count * k);
  uint16_t* tokens = t_bf16_tokens.data();
  for (size_t t = 0; t < count; ++t) {
    const float* src = x + t * ldx;
    uint16_t* dst = tokens + t * k;
    for (size_t i = 0; i < k; i += 2 * kLanes) {
      const size_t left = k - i;
      const __mmask16 lo = left >= kLanes ? __mmask16{0xffff} : static_cast<__mmask16>((1u << left) - 1);
      const __mmask16 hi = left >= 2 * kLanes ? __mmask16{0xffff}
                           : left > kLanes    ? static_cast<__mmask16>((1u << (left - kLanes)) - 1)
                                              : __mmask16{0};
      const __m512bh v = _mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(hi, src + i + kLanes),
                                             _mm512_maskz_loadu_ps(lo, src + i));
      const __mmask32 mask =
          left >= 2 * kLanes ? ~__mmask32{0} : static_cast<__mmask32>((uint64_t{1} << left) - 1);
      _mm512_mask_storeu_epi16(dst + i, mask, std::bit_cast<__m512i>(v));
    }
  }
  PackTokensAvx512(reinterpret_cast<const float*>(tokens), k / 2, count, k / 2, reinterpret_cast<float*>(xt));
}

void GemmTileBf16Avx512(const uint8_t* w, size_t row_bytes, size_t rows, const uint32_t* xt, size_t k,
                        size_t count, float* yt) {
  kBf16Tiles[rows - 1][TokenVectors(count) - 1](w, row_bytes, xt, k / 2, yt);
}

void DecodeHalfRowsAvx512(bool bf16, const uint8_t* w, size_t row_bytes, size_t rows, size_t cols,
                          float* out) {
  for (size_t r = 0; r < rows; ++r) {
    const uint8_t* src = w + r * row_bytes;
    float* dst = out + r * cols;
    // bf16: the upper half of an f32 (zero-extend, shift); f16: the hardware conversion. Both exact.
    const auto convert = [bf16](__m256i h) {
      return bf16 ? _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)) : _mm512_cvtph_ps(h);
    };
    size_t i = 0;
    for (; i + kLanes <= cols; i += kLanes) {  // unmasked: masked stores are slow on some CPUs
      _mm512_storeu_ps(dst + i, convert(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + 2 * i))));
    }
    if (i < cols) {
      const __mmask16 mask = TailMask(cols - i);
      _mm512_mask_storeu_ps(dst + i, mask, convert(_mm256_maskz_loadu_epi16(mask, src + 2 * i)));
    }
  }
}

void QuantizeTokensAvx512(const float* x, size_t ldx, size_t count, size_t k, int8_t* q, float* d,
                          int32_t* corr) {
  const size_t blocks = Q8Blocks(k);
  std::memset(q, 0, blocks * kQuadsPerBlock * kQuadBytes);
  std::memset(d, 0, blocks * kGemmTokens * sizeof(float));
  std::memset(corr, 0, blocks * kGemmTokens * sizeof(int32_t));
  Q8Activation& a = t_token_q8;
  for (size_t t = 0; t < count; ++t) {
    QuantizeActivation(x + t * ldx, k, a);
    for (size_t b = 0; b < blocks; ++b) {
      d[b * kGemmTokens + t] = a.d[b];
      corr[b * kGemmTokens + t] = -128 * a.sum[b];
      for (size_t j = 0; j < kQuadsPerBlock; ++j) {
        std::memcpy(q + (b * kQuadsPerBlock + j) * kQuadBytes + 4 * t, a.q.data() + b * kQ8Block + 4 * j, 4);
      }
    }
  }
}

void GemmTileQ8Avx512(const uint8_t* w, size_t row_bytes, const float* w_scale, size_t rows,
                      const Q8TokenTile& tile, size_t blocks, size_t count, float* yt) {
  kQ8Tiles[rows - 1][TokenVectors(count) - 1](w, row_bytes, w_scale, blocks, tile, yt);
}

}  // namespace kvlab::kernels
