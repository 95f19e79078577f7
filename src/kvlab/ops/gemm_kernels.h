// Prefill kernels: Y[n][rows] = X[n][cols] · W^T for many tokens at once, on AVX-512 (ops/matmul.cc picks
// them; without AVX-512 prefill stays on OpenBLAS sgemm).
//
// Why kvlab has its own: OpenBLAS picks its kernels by CPU type at load, and OPENBLAS_CORETYPE=Haswell
// (set on the benchmark machine) pins it to its AVX2 kernels: about 100 GFLOP/s per thread against 178-198
// for its AVX-512 ones (a 2048³ sgemm), so prefill speed would depend on an environment variable.
//
// Layout: the weight rows are read in place (the row-major [out][in] matrix every projection is stored
// as), a tile of kGemmRows of them at a time, each weight broadcast to a whole vector of tokens. The
// activations are transposed once per product into tiles of kGemmTokens tokens, xt[k][kGemmTokens], so
// that one aligned load gives 16 tokens' values of input k. A tile of 6 rows × 64 tokens keeps 24
// accumulators in registers for the whole length of the rows: no partial sums are stored, and each weight
// value loaded feeds 64 multiply-adds.
//
// q8 weights multiply in integers, as the decode kernels do (ops/matvec_kernels.h): each token's activation
// is quantized per block of 32 (kernels::QuantizeActivation: the same numbers a decode step uses), and a
// tile of 3 rows × 64 tokens sums each block with VNNI's dpbusd (unsigned weight byte × signed activation
// byte, 4 per 32-bit lane) before scaling it by the two block scales in f32.
#pragma once

#include <cstddef>
#include <cstdint>

namespace kvlab::kernels {

inline constexpr size_t kGemmTokens = 64;  // tokens per tile of xt: 4 zmm of 16
inline constexpr size_t kGemmRows = 6;     // weight rows per tile

// xt[i][kGemmTokens] = x[t][i] for the `count` ≤ kGemmTokens tokens of x (rows ldx floats apart); lanes of
// tokens past `count` up to the next multiple of 16 are zero, and the lanes after those are not written
// (no kernel reads them). xt: 64-byte aligned, k * kGemmTokens floats.
void PackTokensAvx512(const float* x, size_t ldx, size_t count, size_t k, float* xt);

// yt[r][t] = sum_i w[r][i] * xt[i][t] for r < rows (≤ kGemmRows) and t < count (≤ kGemmTokens; lanes up to
// the next multiple of 16 are written too), over the first k inputs. w: f32 rows ldw floats apart; yt:
// 64-byte aligned, kGemmTokens floats per row: the transposed result, which StoreTileAvx512 writes out.
void GemmTileF32Avx512(const float* w, size_t ldw, size_t rows, const float* xt, size_t k, size_t count,
                       float* yt);

// As GemmTileF32Avx512 with row r's input i at w[r * ldw + i * step] (attention multiplies the values as
// the rows of V^T: ldw 1, step head_dim).
void GemmTileF32StridedAvx512(const float* w, size_t ldw, size_t step, size_t rows, const float* xt, size_t k,
                              size_t count, float* yt);

// y[t][r] = yt[r][t] for r < rows and t < count (y: rows ldy floats apart; only those entries written).
void StoreTileAvx512(const float* yt, size_t rows, size_t count, float* y, size_t ldy);

// bf16 weights multiply with AVX-512 BF16's dpbf16ps (two products per 32-bit lane, summed in f32), twice
// the multiply-adds per instruction of f32 FMA. That needs the activation in bf16 too: prefill rounds it to
// nearest even, as llama.cpp does for bf16 weights and as a bf16 model runs in PyTorch. (Decode keeps the
// activation f32: it is bound by memory, not by multiply-adds.)
//
// xt[k/2][kGemmTokens] pairs: lane t of pair i holds tokens t's inputs 2i and 2i+1 as bf16 (k even).
void PackTokensBf16Avx512(const float* x, size_t ldx, size_t count, size_t k, uint32_t* xt);
// As GemmTileF32Avx512 for bf16 rows (row_bytes apart, k even) against PackTokensBf16Avx512's pairs.
void GemmTileBf16Avx512(const uint8_t* w, size_t row_bytes, size_t rows, const uint32_t* xt, size_t k,
                        size_t count, float* yt);

// out[r][cols] = rows of bf16 or f16 weights (row_bytes apart) converted exactly to f32, 16 values per
// instruction (the prefill's per-block decode; the portable DecodeRow is the reference).
void DecodeHalfRowsAvx512(bool bf16, const uint8_t* w, size_t row_bytes, size_t rows, size_t cols,
                          float* out);

// The q8 form of up to kGemmTokens tokens, transposed for GemmTileQ8Avx512 (QuantizeTokens fills it).
// Token lanes past the tile's count are zero in every array.
struct Q8TokenTile {
  const int8_t* q;      // [blocks * 8][kGemmTokens][4]  quants, 4 consecutive inputs per 32-bit lane
  const float* d;       // [blocks][kGemmTokens]         block scales
  const int32_t* corr;  // [blocks][kGemmTokens]         -128 * (sum of the block's quants): cancels the
                        //                               weights' +128 offset
};
inline constexpr size_t kGemmRowsQ8 = 3;  // q8 rows per tile: 12 integer + 12 f32 accumulators

// Quantizes tokens [0, count) of x (count ≤ kGemmTokens, rows ldx floats apart, k inputs each) and writes
// their transposed q8 form into q, d, corr (64-byte aligned, sized as Q8TokenTile describes for
// blocks = ceil(k / 32)).
void QuantizeTokensAvx512(const float* x, size_t ldx, size_t count, size_t k, int8_t* q, float* d,
                          int32_t* corr);

// yt[r][t] (as GemmTileF32Avx512) = sum over blocks of d_w[r][b] * d_x[t][b] * (integer dot of the block),
// for r < rows (≤ kGemmRowsQ8) q8 rows (tensor/q8_rows.h layout, row_bytes apart) whose f16 block scales
// were decoded into w_scale[r][blocks], and t < count tokens of `tile`.
void GemmTileQ8Avx512(const uint8_t* w, size_t row_bytes, const float* w_scale, size_t rows,
                      const Q8TokenTile& tile, size_t blocks, size_t count, float* yt);

}  // namespace kvlab::kernels
