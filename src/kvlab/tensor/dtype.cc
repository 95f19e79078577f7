#include "kvlab/tensor/dtype.h"

#include <cmath>

#include "kvlab/tensor/ggml_quants.h"
#include "kvlab/tensor/q8_rows.h"
#include "kvlab/util/error.h"

namespace kvlab {

std::string_view DTypeName(DType t) {
  switch (t) {
    case DType::kF32: return "f32";
    case DType::kF16: return "f16";
    case DType::kBF16: return "bf16";
    case DType::kQ8_0: return "q8_0";
    case DType::kQ8: return "q8";
    case DType::kQ4_0: return "q4_0";
    case DType::kQ4_1: return "q4_1";
    case DType::kQ5_0: return "q5_0";
    case DType::kQ5_1: return "q5_1";
    case DType::kQ2_K: return "q2_k";
    case DType::kQ3_K: return "q3_k";
    case DType::kQ4_K: return "q4_k";
    case DType::kQ5_K: return "q5_k";
    case DType::kQ6_K: return "q6_k";
  }
  return "?";
}

size_t DTypeBytes(DType t, size_t n) {
  switch (t) {
    case DType::kF32: return 4 * n;
    case DType::kF16:
    case DType::kBF16: return 2 * n;
    case DType::kQ8: return (n + kQ8_0BlockSize - 1) / kQ8_0BlockSize * kQ8_0BlockBytes;
    default: {  // the GGUF block types
      const ggml::BlockGeometry g = ggml::GeometryOf(t);
      return n / g.elements * g.bytes;
    }
  }
  return 0;
}

// IEEE half <-> single by bit manipulation; load-time only, so clarity over speed.
float F16ToF32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  const uint32_t mant = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: value = mant * 2^-24
      float f = std::ldexp(static_cast<float>(mant), -24);
      std::memcpy(&bits, &f, 4);
      bits |= sign;
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 112) << 23) | (mant << 13);
  }
  float out;
  std::memcpy(&out, &bits, 4);
  return out;
}

uint16_t F32ToF16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t abs = bits & 0x7fffffffu;
  if (abs > 0x7f800000u) return sign | 0x7e00u;           // NaN
  if (abs >= 0x477ff000u) return sign | 0x7c00u;          // overflow -> inf (incl. inf)
  if (abs < 0x38800000u) {                                // subnormal or zero in half
    float a;
    std::memcpy(&a, &abs, 4);
    return sign | static_cast<uint16_t>(std::nearbyint(a * 16777216.0f));  // a / 2^-24, RNE
  }
  uint32_t h = abs - 0x38000000u;  // rebias exponent 127 -> 15
  h += 0xfffu + ((h >> 13) & 1u);  // round to nearest even on the 13 dropped bits
  return sign | static_cast<uint16_t>(h >> 13);
}

void ConvertToF32(DType t, const void* src, size_t n, float* dst) {
  switch (t) {
    case DType::kF32:
      std::memcpy(dst, src, 4 * n);
      return;
    case DType::kF16:
    case DType::kBF16: {
      // src may be unaligned (a row inside a packed buffer): load 16-bit values by memcpy.
      auto* s = static_cast<const uint8_t*>(src);
      for (size_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, s + 2 * i, 2);
        dst[i] = t == DType::kF16 ? F16ToF32(h) : Bf16ToF32(h);
      }
      return;
    }
    case DType::kQ8:
      DecodeQ8Row(static_cast<const uint8_t*>(src), n, dst);
      return;
    default:  // the GGUF block types
      ggml::Dequantize(t, src, n, dst);
      return;
  }
}

void ConvertFromF32(DType t, const float* src, size_t n, void* dst) {
  // dst may be unaligned (rows packed back to back, tests at odd addresses): store 16-bit values by memcpy.
  auto* d = static_cast<uint8_t*>(dst);
  switch (t) {
    case DType::kF32:
      std::memcpy(dst, src, 4 * n);
      return;
    case DType::kF16:
      for (size_t i = 0; i < n; ++i) {
        const uint16_t h = F32ToF16(src[i]);
        std::memcpy(d + 2 * i, &h, 2);
      }
      return;
    case DType::kBF16:
      for (size_t i = 0; i < n; ++i) {
        const uint16_t h = F32ToBf16(src[i]);
        std::memcpy(d + 2 * i, &h, 2);
      }
      return;
    case DType::kQ8:
      EncodeQ8Row(src, n, static_cast<uint8_t*>(dst));
      return;
    default:  // the GGUF block types
      break;
  }
  KVLAB_CHECK(false && "no f32 -> GGUF block encoder (kvlab stores 8-bit weights as q8)");
}

}  // namespace kvlab
