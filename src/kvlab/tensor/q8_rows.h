// The q8 row layout (DType::kQ8): 8-bit weights with one scale per block of 32, the same numbers as GGUF
// Q8_0, but laid out for the decode kernels. One row of n values is
//   [nb*32 uint8 quants][nb f16 scales],   nb = ceil(n / 32), value i = scale[i/32] * (quant[i] - 128)
// Quants are stored offset by +128 (unsigned) because VNNI's dpbusd multiplies unsigned by signed bytes:
// with the weights unsigned, the correction for the offset depends only on the activation (once per token).
// Keeping all scales of a row together lets the kernel convert 16 of them with one instruction. The padding
// of the last block is quant 128 (value 0).
#pragma once

#include <cstddef>
#include <cstdint>

#include "kvlab/tensor/dtype.h"

namespace kvlab {

inline constexpr size_t kQ8Block = 32;
inline size_t Q8Blocks(size_t n) { return (n + kQ8Block - 1) / kQ8Block; }
inline size_t Q8RowBytes(size_t n) { return Q8Blocks(n) * (kQ8Block + 2); }

// Quantizes one row: per block, scale = max|x| / 127 (stored as f16), quant = round(x / scale).
void EncodeQ8Row(const float* x, size_t n, uint8_t* row);
// Dequantizes one row into out[0..n).
void DecodeQ8Row(const uint8_t* row, size_t n, float* out);
// Repacks one row of GGUF Q8_0 blocks (n a multiple of 32) into the q8 layout exactly (no requantization).
void RepackQ8_0Row(const uint8_t* q8_0, size_t n, uint8_t* row);

// The GGUF types whose every value is (f16 block scale) * (small integer) per 32 elements: Q8_0, Q4_0
// (d * (q - 8)) and Q5_0 (d * (q - 16)). They map onto q8 exactly: the same f16 scale, the integer as an int8.
// (Q4_1 / Q5_1 and the K types add offsets or quantized sub-scales, which q8 cannot hold exactly.)
bool RepacksExactlyToQ8(DType t);
// One row of n elements (a multiple of 32) of such a type into the q8 layout; decodes to exactly the values
// ConvertToF32 gives.
void RepackRowToQ8(DType t, const uint8_t* src, size_t n, uint8_t* row);

}  // namespace kvlab
