// Element types of stored tensors and the conversions between them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace kvlab {

enum class DType : uint8_t {
  kF32,
  kF16,
  kBF16,
  kQ8_0,  // GGUF Q8_0: blocks of 32 int8 values with one f16 scale (34 bytes per block); file format only
  kQ8,    // kvlab's decode layout of the same numbers, per matrix row (tensor/q8_rows.h): the row's
          // quants as uint8 (int8 + 128), zero-padded to whole blocks of 32, then its f16 block scales
  // The other GGUF block-quantized types (tensor/ggml_quants.h). File formats only, like kQ8_0: no kernel
  // reads them; the loader dequantizes them exactly to f32 (or repacks Q4_0 / Q5_0 exactly to q8).
  kQ4_0,
  kQ4_1,
  kQ5_0,
  kQ5_1,
  kQ2_K,
  kQ3_K,
  kQ4_K,
  kQ5_K,
  kQ6_K,
};

inline constexpr size_t kQ8_0BlockSize = 32;
inline constexpr size_t kQ8_0BlockBytes = 2 + kQ8_0BlockSize;

std::string_view DTypeName(DType t);

// Bytes needed for `n` elements of type t (n must be a multiple of the block size for the GGUF block types;
// for q8, n is one row and its last block is padded).
size_t DTypeBytes(DType t, size_t n);

inline float Bf16ToF32(uint16_t h) {
  uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// Round-to-nearest-even, NaN preserved (matches PyTorch / hardware vcvtneps2bf16).
inline uint16_t F32ToBf16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x40);
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(bits >> 16);
}

float F16ToF32(uint16_t h);
uint16_t F32ToF16(float f);

// Converts `n` elements of `src` (type t) to f32. Used at load time, never per token. For q8, `src` is one
// row of n elements; for a GGUF block type, n is a multiple of its block size (exact, as ggml dequantizes).
void ConvertToF32(DType t, const void* src, size_t n, float* dst);
// The reverse, rounding to nearest (even): f32, f16, bf16, or one q8 row of n elements.
void ConvertFromF32(DType t, const float* src, size_t n, void* dst);

}  // namespace kvlab
