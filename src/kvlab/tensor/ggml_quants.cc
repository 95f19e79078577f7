// Exact dequantization of ggml's block formats, following ggml-quants.c's dequantize_row_* reference.
// Where a product could round (Q6_K's d * scale * q has up to 25 significant bits), the order of the
// operations is ggml's; differences of products and offsets round once, as there.
#include "kvlab/tensor/ggml_quants.h"

#include <cstring>

#include "kvlab/util/error.h"

namespace kvlab::ggml {
namespace {

// Block `i` of `src` copied out, so that callers may pass any address (tensor data in a file map).
template <typename Block>
Block LoadBlock(const uint8_t* src, size_t i) {
  Block b;
  std::memcpy(&b, src + i * sizeof(Block), sizeof(Block));
  return b;
}

uint32_t LoadU32(const uint8_t bytes[4]) {
  uint32_t v;
  std::memcpy(&v, bytes, 4);
  return v;
}

// The unsigned 4-bit quants of a 32-element block: element j from the low nibble of qs[j], element j+16
// from its high nibble.
void Nibbles(const uint8_t qs[kQK / 2], uint8_t q[kQK]) {
  for (size_t j = 0; j < kQK / 2; ++j) {
    q[j] = qs[j] & 0x0f;
    q[j + kQK / 2] = qs[j] >> 4;
  }
}

// Adds the fifth bit of each element (bit j of qh, as a u32) to the nibbles.
void AddFifthBits(const uint8_t qh_bytes[4], uint8_t q[kQK]) {
  const uint32_t qh = LoadU32(qh_bytes);
  for (size_t j = 0; j < kQK; ++j) q[j] |= static_cast<uint8_t>(((qh >> j) & 1u) << 4);
}

}  // namespace

BlockGeometry GeometryOf(DType t) {
  switch (t) {
    case DType::kQ8_0: return {kQK, kQ8_0BlockBytes};
    case DType::kQ4_0: return {kQK, sizeof(BlockQ4_0)};
    case DType::kQ4_1: return {kQK, sizeof(BlockQ4_1)};
    case DType::kQ5_0: return {kQK, sizeof(BlockQ5_0)};
    case DType::kQ5_1: return {kQK, sizeof(BlockQ5_1)};
    case DType::kQ2_K: return {kQK_K, sizeof(BlockQ2_K)};
    case DType::kQ3_K: return {kQK_K, sizeof(BlockQ3_K)};
    case DType::kQ4_K: return {kQK_K, sizeof(BlockQ4_K)};
    case DType::kQ5_K: return {kQK_K, sizeof(BlockQ5_K)};
    case DType::kQ6_K: return {kQK_K, sizeof(BlockQ6_K)};
    case DType::kF32:
    case DType::kF16:
    case DType::kBF16:
    case DType::kQ8: return {0, 0};
  }
  return {0, 0};
}

void UnpackQ4_0(const BlockQ4_0& b, int8_t q[kQK]) {
  uint8_t u[kQK];
  Nibbles(b.qs, u);
  for (size_t j = 0; j < kQK; ++j) q[j] = static_cast<int8_t>(u[j] - 8);
}

void UnpackQ5_0(const BlockQ5_0& b, int8_t q[kQK]) {
  uint8_t u[kQK];
  Nibbles(b.qs, u);
  AddFifthBits(b.qh, u);
  for (size_t j = 0; j < kQK; ++j) q[j] = static_cast<int8_t>(u[j] - 16);
}

void ScaleMinK4(int j, const uint8_t scales[kKScaleBytes], uint8_t* scale, uint8_t* min) {
  if (j < 4) {
    *scale = scales[j] & 63;
    *min = scales[j + 4] & 63;
  } else {
    *scale = static_cast<uint8_t>((scales[j + 4] & 0x0f) | ((scales[j - 4] >> 6) << 4));
    *min = static_cast<uint8_t>((scales[j + 4] >> 4) | ((scales[j] >> 6) << 4));
  }
}

// Scale j's low 4 bits are a nibble of bytes 0..7 (low nibbles for j < 8, high nibbles for j >= 8); its high
// 2 bits sit in byte 8 + j % 4 at bit 2 * (j / 4).
void ScalesQ3_K(const uint8_t packed[12], uint8_t out[16]) {
  for (int j = 0; j < 16; ++j) {
    const uint8_t low = j < 8 ? (packed[j] & 0x0f) : (packed[j - 8] >> 4);
    const uint8_t high = (packed[8 + j % 4] >> (2 * (j / 4))) & 3;
    out[j] = static_cast<uint8_t>(low | (high << 4));
  }
}

void DequantizeQ4_0(const uint8_t* src, size_t blocks, float* y) {
  for (size_t i = 0; i < blocks; ++i, y += kQK) {
    const auto b = LoadBlock<BlockQ4_0>(src, i);
    const float d = F16ToF32(b.d);
    int8_t q[kQK];
    UnpackQ4_0(b, q);
    for (size_t j = 0; j < kQK; ++j) y[j] = static_cast<float>(q[j]) * d;
  }
}

void DequantizeQ4_1(const uint8_t* src, size_t blocks, float* y) {
  for (size_t i = 0; i < blocks; ++i, y += kQK) {
    const auto b = LoadBlock<BlockQ4_1>(src, i);
    const float d = F16ToF32(b.d), m = F16ToF32(b.m);
    uint8_t q[kQK];
    Nibbles(b.qs, q);
    for (size_t j = 0; j < kQK; ++j) y[j] = static_cast<float>(q[j]) * d + m;
  }
}

void DequantizeQ5_0(const uint8_t* src, size_t blocks, float* y) {
  for (size_t i = 0; i < blocks; ++i, y += kQK) {
    const auto b = LoadBlock<BlockQ5_0>(src, i);
    const float d = F16ToF32(b.d);
    int8_t q[kQK];
    UnpackQ5_0(b, q);
    for (size_t j = 0; j < kQK; ++j) y[j] = static_cast<float>(q[j]) * d;
  }
}

void DequantizeQ5_1(const uint8_t* src, size_t blocks, float* y) {
  for (size_t i = 0; i < blocks; ++i, y += kQK) {
    const auto b = LoadBlock<BlockQ5_1>(src, i);
    const float d = F16ToF32(b.d), m = F16ToF32(b.m);
    uint8_t q[kQK];
    Nibbles(b.qs, q);
    AddFifthBits(b.qh, q);
    for (size_t j = 0; j < kQK; ++j) y[j] = static_cast<float>(q[j]) * d + m;
  }
}

void DequantizeQ8_0(const uint8_t* src, size_t blocks, float* y) {
  for (size_t i = 0; i < blocks; ++i, y += kQK) {
    const uint8_t* block = src + i * kQ8_0BlockBytes;  // [f16 scale][32 int8]
    uint16_t d16;
    std::memcpy(&d16, block, 2);
    const float d = F16ToF32(d16);
    for (size_t j = 0; j < kQK; ++j) y[j] = static_cast<float>(static_cast<int8_t>(block[2 + j])) * d;
  }
}

// 256 elements as 2 halves of 128; in each half, 4 bit-pairs (shift 0, 2, 4, 6) of the 32 bytes qs[0..31]
// give 4 runs of 32 elements, each run two sub-blocks of 16 with their own scale and min.
void DequantizeQ2_K(const uint8_t* src, size_t blocks, float* y) {
  for (size_t i = 0; i < blocks; ++i) {
    const auto b = LoadBlock<BlockQ2_K>(src, i);
    const float d = F16ToF32(b.d), dmin = F16ToF32(b.dmin);
    int sub = 0;  // sub-block of 16, 0..15
    for (size_t half = 0; half < 2; ++half) {
      const uint8_t* q = b.qs + 32 * half;  // [32]
      for (int shift = 0; shift < 8; shift += 2) {
        for (size_t part = 0; part < 2; ++part, ++sub) {
          const uint8_t sc = b.scales[sub];
          const float dl = d * static_cast<float>(sc & 0x0f);
          const float ml = dmin * static_cast<float>(sc >> 4);
          for (size_t l = 0; l < 16; ++l) {
            *y++ = dl * static_cast<float>((q[16 * part + l] >> shift) & 3) - ml;
          }
        }
      }
    }
  }
}

// Same walk as Q2_K; the third bit comes from hmask, one bit plane per run of 32 (bit 0..7 over the block).
void DequantizeQ3_K(const uint8_t* src, size_t blocks, float* y) {
  for (size_t i = 0; i < blocks; ++i) {
    const auto b = LoadBlock<BlockQ3_K>(src, i);
    const float d = F16ToF32(b.d);
    uint8_t scales[16];
    ScalesQ3_K(b.scales, scales);
    int sub = 0, plane = 0;
    for (size_t half = 0; half < 2; ++half) {
      const uint8_t* q = b.qs + 32 * half;  // [32]
      for (int shift = 0; shift < 8; shift += 2, ++plane) {
        for (size_t part = 0; part < 2; ++part, ++sub) {
          const float dl = d * static_cast<float>(static_cast<int>(scales[sub]) - 32);
          for (size_t l = 0; l < 16; ++l) {
            const size_t k = 16 * part + l;
            const int low = (q[k] >> shift) & 3;
            const int minus = (b.hmask[k] >> plane) & 1 ? 0 : 4;
            *y++ = dl * static_cast<float>(low - minus);
          }
        }
      }
    }
  }
}

// 4 runs of 64: 32 low nibbles then 32 high nibbles of the same 32 bytes, each with its own scale/min.
void DequantizeQ4_K(const uint8_t* src, size_t blocks, float* y) {
  for (size_t i = 0; i < blocks; ++i) {
    const auto b = LoadBlock<BlockQ4_K>(src, i);
    const float d = F16ToF32(b.d), dmin = F16ToF32(b.dmin);
    for (int run = 0; run < 4; ++run) {
      const uint8_t* q = b.qs + 32 * run;  // [32]
      for (int nibble = 0; nibble < 2; ++nibble) {
        uint8_t sc, m;
        ScaleMinK4(2 * run + nibble, b.scales, &sc, &m);
        const float dl = d * static_cast<float>(sc), ml = dmin * static_cast<float>(m);
        for (size_t l = 0; l < 32; ++l) *y++ = dl * static_cast<float>((q[l] >> (4 * nibble)) & 0x0f) - ml;
      }
    }
  }
}

// As Q4_K; sub-block s (0..7) takes its fifth bits from bit s of qh[0..31].
void DequantizeQ5_K(const uint8_t* src, size_t blocks, float* y) {
  for (size_t i = 0; i < blocks; ++i) {
    const auto b = LoadBlock<BlockQ5_K>(src, i);
    const float d = F16ToF32(b.d), dmin = F16ToF32(b.dmin);
    for (int run = 0; run < 4; ++run) {
      const uint8_t* q = b.qs + 32 * run;  // [32]
      for (int nibble = 0; nibble < 2; ++nibble) {
        const int sub = 2 * run + nibble;
        uint8_t sc, m;
        ScaleMinK4(sub, b.scales, &sc, &m);
        const float dl = d * static_cast<float>(sc), ml = dmin * static_cast<float>(m);
        for (size_t l = 0; l < 32; ++l) {
          const int quant = ((q[l] >> (4 * nibble)) & 0x0f) + (((b.qh[l] >> sub) & 1) << 4);
          *y++ = dl * static_cast<float>(quant) - ml;
        }
      }
    }
  }
}

// 2 halves of 128. In a half, element l + 32*k (k = 0..3) takes its low 4 bits from ql[l] (k even) or
// ql[l + 32] (k odd), low or high nibble for k < 2 / k >= 2, and its high 2 bits from qh[l] at bit 2k;
// the scale is scales[8*half + 2*k + l/16]. Value (d * scale) * (q - 32), in that order.
void DequantizeQ6_K(const uint8_t* src, size_t blocks, float* y) {
  for (size_t i = 0; i < blocks; ++i) {
    const auto b = LoadBlock<BlockQ6_K>(src, i);
    const float d = F16ToF32(b.d);
    for (size_t half = 0; half < 2; ++half, y += 128) {
      const uint8_t* ql = b.ql + 64 * half;      // [64]
      const uint8_t* qh = b.qh + 32 * half;      // [32]
      const int8_t* sc = b.scales + 8 * half;    // [8]
      for (size_t l = 0; l < 32; ++l) {
        for (size_t k = 0; k < 4; ++k) {
          const uint8_t low_byte = ql[l + 32 * (k % 2)];
          const int low = k < 2 ? (low_byte & 0x0f) : (low_byte >> 4);
          const int high = (qh[l] >> (2 * k)) & 3;
          const int q = (low | (high << 4)) - 32;
          const float scale = d * static_cast<float>(sc[2 * k + l / 16]);
          y[l + 32 * k] = scale * static_cast<float>(q);
        }
      }
    }
  }
}

void Dequantize(DType t, const void* src, size_t n, float* y) {
  const BlockGeometry g = GeometryOf(t);
  KVLAB_CHECK(g.elements != 0 && n % g.elements == 0);
  const auto* s = static_cast<const uint8_t*>(src);
  const size_t blocks = n / g.elements;
  switch (t) {
    case DType::kQ8_0: return DequantizeQ8_0(s, blocks, y);
    case DType::kQ4_0: return DequantizeQ4_0(s, blocks, y);
    case DType::kQ4_1: return DequantizeQ4_1(s, blocks, y);
    case DType::kQ5_0: return DequantizeQ5_0(s, blocks, y);
    case DType::kQ5_1: return DequantizeQ5_1(s, blocks, y);
    case DType::kQ2_K: return DequantizeQ2_K(s, blocks, y);
    case DType::kQ3_K: return DequantizeQ3_K(s, blocks, y);
    case DType::kQ4_K: return DequantizeQ4_K(s, blocks, y);
    case DType::kQ5_K: return DequantizeQ5_K(s, blocks, y);
    case DType::kQ6_K: return DequantizeQ6_K(s, blocks, y);
    case DType::kF32:
    case DType::kF16:
    case DType::kBF16:
    case DType::kQ8: break;
  }
}

}  // namespace kvlab::ggml
