#include "kvlab/tensor/dtype.h"

#include <cmath>

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
  }
  return "?";
}

size_t DTypeBytes(DType t, size_t n) {
  switch (t) {
    case DType::kF32: return 4 * n;
    case DType::kF16:
    case DType::kBF16: return 2 * n;
    case DType::kQ8_0: return n / kQ8_0BlockSize * kQ8_0BlockBytes;
    case DType::kQ8: return (n + kQ8_0BlockSize - 1) / kQ8_0BlockSize * kQ8_0BlockBytes;
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
    case DType::kQ8_0: {
      KVLAB_CHECK(n % kQ8_0BlockSize == 0);
      auto* s = static_cast<const uint8_t*>(src);
      for (size_t b = 0; b < n / kQ8_0BlockSize; ++b) {
        const uint8_t* block = s + b * kQ8_0BlockBytes;
        uint16_t d;
        std::memcpy(&d, block, 2);
        const float scale = F16ToF32(d);
        auto* q = reinterpret_cast<const int8_t*>(block + 2);
        for (size_t i = 0; i < kQ8_0BlockSize; ++i) dst[b * kQ8_0BlockSize + i] = scale * q[i];
      }
      return;
    }
    case DType::kQ8:
      DecodeQ8Row(static_cast<const uint8_t*>(src), n, dst);
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
    case DType::kQ8_0:
      break;
  }
  KVLAB_CHECK(false && "no f32 -> q8_0 encoder (kvlab stores 8-bit weights as q8)");
}

}  // namespace kvlab
