// The block-quantized weight formats of ggml / GGUF (Q4_0 ... Q6_K) and their exact dequantization.
// Each dequantizer reproduces ggml's dequantize_row_* reference bit for bit in float32: the same integer
// unpacking, the same products in the same order, each rounded to float (no fused multiply-add; the build
// compiles this file with -ffp-contract=off). Load-time only: clarity over speed.
//
// Geometry: the 32-element types hold one f16 scale (and, for the *_1 types, an f16 offset) per block.
// The "K" types hold 256 elements in 16 or 8 sub-blocks whose scales are themselves quantized against one
// or two f16 super-scales.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kvlab/tensor/dtype.h"

namespace kvlab::ggml {

inline constexpr size_t kQK = 32;        // elements per block of Q4_0, Q4_1, Q5_0, Q5_1, Q8_0
inline constexpr size_t kQK_K = 256;     // elements per block of the K types
inline constexpr size_t kKScaleBytes = 12;  // Q4_K / Q5_K: 8 six-bit scales + 8 six-bit mins

// Block layouts, byte for byte as ggml writes them (uint16_t fields are IEEE half, little-endian). Every
// member is a byte array or a uint16_t at an even offset, so the structs have no padding and may be read
// from any 2-byte-aligned address; the dequantizers copy each block out first, so any address works.
struct BlockQ4_0 {
  uint16_t d;            // scale
  uint8_t qs[kQK / 2];   // element j: low nibble of qs[j]; element j+16: high nibble; value d*(q-8)
};
struct BlockQ4_1 {
  uint16_t d, m;         // scale, offset: value d*q + m
  uint8_t qs[kQK / 2];   // as Q4_0
};
struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];         // bit j: 5th bit of element j (u32 little-endian)
  uint8_t qs[kQK / 2];   // low 4 bits as Q4_0; value d*(q-16)
};
struct BlockQ5_1 {
  uint16_t d, m;
  uint8_t qh[4];
  uint8_t qs[kQK / 2];   // value d*q + m
};
struct BlockQ2_K {
  uint8_t scales[kQK_K / 16];  // per 16 elements: low nibble scale, high nibble min
  uint8_t qs[kQK_K / 4];       // 2-bit quants
  uint16_t d, dmin;            // super-scales of the scales and of the mins
};
struct BlockQ3_K {
  uint8_t hmask[kQK_K / 8];  // high bit of each quant (set: +0, clear: -4)
  uint8_t qs[kQK_K / 4];     // low 2 bits
  uint8_t scales[12];        // 16 six-bit scales, stored with a bias of 32
  uint16_t d;
};
struct BlockQ4_K {
  uint16_t d, dmin;
  uint8_t scales[kKScaleBytes];  // 8 six-bit scales and 8 six-bit mins, one pair per 32 elements
  uint8_t qs[kQK_K / 2];
};
struct BlockQ5_K {
  uint16_t d, dmin;
  uint8_t scales[kKScaleBytes];
  uint8_t qh[kQK_K / 8];  // 5th bits
  uint8_t qs[kQK_K / 2];
};
struct BlockQ6_K {
  uint8_t ql[kQK_K / 2];      // low 4 bits
  uint8_t qh[kQK_K / 4];      // high 2 bits
  int8_t scales[kQK_K / 16];  // one signed 8-bit scale per 16 elements
  uint16_t d;
};

static_assert(sizeof(BlockQ4_0) == 18);
static_assert(sizeof(BlockQ4_1) == 20);
static_assert(sizeof(BlockQ5_0) == 22);
static_assert(sizeof(BlockQ5_1) == 24);
static_assert(sizeof(BlockQ2_K) == 84);
static_assert(sizeof(BlockQ3_K) == 110);
static_assert(sizeof(BlockQ4_K) == 144);
static_assert(sizeof(BlockQ5_K) == 176);
static_assert(sizeof(BlockQ6_K) == 210);

// Elements and bytes per block of a ggml block type (Q8_0 included); {0, 0} for kvlab's own types.
struct BlockGeometry {
  size_t elements;
  size_t bytes;
};
BlockGeometry GeometryOf(DType t);
// True for the types that exist only in files and are dequantized (or repacked) at load: Q8_0, Q4_0 ...
inline bool IsBlockQuantized(DType t) { return GeometryOf(t).elements != 0; }

// The signed integer quants of one Q4_0 / Q5_0 block, in element order: value i = d * q[i]. These two
// types are exactly "f16 scale times int8" per 32 elements, which is what kvlab's q8 layout stores.
void UnpackQ4_0(const BlockQ4_0& b, int8_t q[kQK]);
void UnpackQ5_0(const BlockQ5_0& b, int8_t q[kQK]);

// The six-bit scale and min of sub-block j (0..7) of a Q4_K / Q5_K block (ggml's get_scale_min_k4):
// j < 4: low 6 bits of bytes j and j+4; j >= 4: a nibble of byte j+4 plus the top 2 bits of bytes j-4 / j.
void ScaleMinK4(int j, const uint8_t scales[kKScaleBytes], uint8_t* scale, uint8_t* min);
// The sixteen six-bit Q3_K scales, bias not yet removed (ggml's aux/kmask shuffle, written per scale).
void ScalesQ3_K(const uint8_t packed[12], uint8_t out[16]);

// Dequantizes `blocks` consecutive blocks from `src` (any alignment) into y[blocks * elements].
void DequantizeQ4_0(const uint8_t* src, size_t blocks, float* y);
void DequantizeQ4_1(const uint8_t* src, size_t blocks, float* y);
void DequantizeQ5_0(const uint8_t* src, size_t blocks, float* y);
void DequantizeQ5_1(const uint8_t* src, size_t blocks, float* y);
void DequantizeQ8_0(const uint8_t* src, size_t blocks, float* y);
void DequantizeQ2_K(const uint8_t* src, size_t blocks, float* y);
void DequantizeQ3_K(const uint8_t* src, size_t blocks, float* y);
void DequantizeQ4_K(const uint8_t* src, size_t blocks, float* y);
void DequantizeQ5_K(const uint8_t* src, size_t blocks, float* y);
void DequantizeQ6_K(const uint8_t* src, size_t blocks, float* y);

// n elements (a multiple of the block size) of block type t into y[n].
void Dequantize(DType t, const void* src, size_t n, float* y);

}  // namespace kvlab::ggml
