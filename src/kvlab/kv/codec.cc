#include "kvlab/kv/codec.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kvlab/kv/codec_kernels.h"
#include "kvlab/kv/codec_layout.h"
#include "kvlab/ops/cpu_features.h"
#include "kvlab/util/error.h"

namespace kvlab {

namespace {

uint32_t Bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  return u;
}
float FromBits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof(f));
  return f;
}

// IEEE binary16, round to nearest even (F. Giesen's float_to_half_fast3_rtne); software so that the codec
// does not depend on F16C being present.
uint16_t FloatToHalf(float value) {
  uint32_t f = Bits(value);
  const uint32_t sign = f & 0x80000000u;
  f ^= sign;
  uint16_t o;
  if (f >= (127u + 16u) << 23) {                 // overflow, inf, nan
    o = f > (255u << 23) ? 0x7e00 : 0x7c00;
  } else if (f < (113u << 23)) {                  // half subnormal or zero: let the FPU round
    const uint32_t magic = ((127u - 15u) + (23u - 10u) + 1u) << 23;
    o = static_cast<uint16_t>(Bits(FromBits(f) + FromBits(magic)) - magic);
  } else {
    const uint32_t mant_odd = (f >> 13) & 1u;
    f += (static_cast<uint32_t>(15 - 127) << 23) + 0xfffu;
    f += mant_odd;
    o = static_cast<uint16_t>(f >> 13);
  }
  return static_cast<uint16_t>(o | (sign >> 16));
}

float HalfToFloat(uint16_t h) {
  const uint32_t shifted_exp = 0x7c00u << 13;
  uint32_t o = (h & 0x7fffu) << 13;
  const uint32_t exp = shifted_exp & o;
  o += (127u - 15u) << 23;
  if (exp == shifted_exp) {
    o += (128u - 16u) << 23;  // inf / nan
  } else if (exp == 0) {      // subnormal: renormalize through the FPU
    o += 1u << 23;
    o = Bits(FromBits(o) - FromBits(113u << 23));
  }
  return FromBits(o | (static_cast<uint32_t>(h & 0x8000u) << 16));
}

uint16_t FloatToBf16(float value) {
  const uint32_t u = Bits(value);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);  // quiet nan
  return static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

float Bf16ToFloat(uint16_t b) { return FromBits(static_cast<uint32_t>(b) << 16); }

using codec_layout::CodeAt;
using codec_layout::Groups;
using codec_layout::LoadScale;

// ---- 16-bit float codecs ----

template <uint16_t (*kTo)(float)>
void Encode16(const float* x, size_t n, size_t, uint8_t* out) {
  for (size_t i = 0; i < n; ++i) {
    const uint16_t h = kTo(x[i]);
    std::memcpy(out + 2 * i, &h, 2);
  }
}

template <float (*kFrom)(uint16_t)>
float Load16(const uint8_t* row, size_t i) {
  uint16_t h;
  std::memcpy(&h, row + 2 * i, 2);
  return kFrom(h);
}

template <float (*kFrom)(uint16_t)>
void Decode16(const uint8_t* row, size_t n, size_t, float* out) {
  for (size_t i = 0; i < n; ++i) out[i] = Load16<kFrom>(row, i);
}

template <float (*kFrom)(uint16_t)>
float Dot16(const uint8_t* row, const float* q, size_t n, size_t) {
  float s = 0;
  for (size_t i = 0; i < n; ++i) s += Load16<kFrom>(row, i) * q[i];
  return s;
}

template <float (*kFrom)(uint16_t)>
void Axpy16(float a, const uint8_t* row, float* y, size_t n, size_t) {
  for (size_t i = 0; i < n; ++i) y[i] += a * Load16<kFrom>(row, i);
}

// ---- f32 (a K or V side left unquantized while the other side is encoded) ----

void EncodeF32(const float* x, size_t n, size_t, uint8_t* out) { std::memcpy(out, x, n * sizeof(float)); }
void DecodeF32(const uint8_t* row, size_t n, size_t, float* out) { std::memcpy(out, row, n * sizeof(float)); }
float DotF32(const uint8_t* row, const float* q, size_t n, size_t) {
  float s = 0;
  for (size_t i = 0; i < n; ++i) {
    float v;
    std::memcpy(&v, row + 4 * i, 4);
    s += v * q[i];
  }
  return s;
}
void AxpyF32(float a, const uint8_t* row, float* y, size_t n, size_t) {
  for (size_t i = 0; i < n; ++i) {
    float v;
    std::memcpy(&v, row + 4 * i, 4);
    y[i] += a * v;
  }
}

// ---- asymmetric integer codecs ----

template <int kBits>
void EncodeInt(const float* x, size_t n, size_t group, uint8_t* out) {
  constexpr float kLevels = static_cast<float>((1 << kBits) - 1);
  const size_t groups = Groups(n, group);
  uint8_t* codes = out + 8 * groups;
  std::memset(codes, 0, (n * kBits + 7) / 8);
  for (size_t g = 0; g < groups; ++g) {
    const size_t lo = g * group, hi = std::min(n, lo + group);
    float mn = x[lo], mx = x[lo];
    for (size_t i = lo + 1; i < hi; ++i) {
      mn = std::min(mn, x[i]);
      mx = std::max(mx, x[i]);
    }
    const float scale = (mx - mn) / kLevels;
    std::memcpy(out + 8 * g, &scale, 4);
    std::memcpy(out + 8 * g + 4, &mn, 4);
    if (scale == 0.0f) continue;  // constant group: every code 0 decodes to mn exactly
    for (size_t i = lo; i < hi; ++i) {
      const float c = std::clamp(std::floor((x[i] - mn) / scale + 0.5f), 0.0f, kLevels);
      const size_t bit = i * kBits;
      codes[bit / 8] |= static_cast<uint8_t>(static_cast<uint32_t>(c) << (bit % 8));
    }
  }
}

template <int kBits>
void DecodeInt(const uint8_t* row, size_t n, size_t group, float* out) {
  const size_t groups = Groups(n, group);
  const uint8_t* codes = row + 8 * groups;
  for (size_t g = 0; g < groups; ++g) {
    float scale, mn;
    LoadScale(row, g, &scale, &mn);
    const size_t lo = g * group, hi = std::min(n, lo + group);
    for (size_t i = lo; i < hi; ++i) out[i] = mn + static_cast<float>(CodeAt<kBits>(codes, i)) * scale;
  }
}

// sum_i q_i (m + c_i s) = s · sum_i c_i q_i + m · sum_i q_i per group: one multiply per value, scales
// applied once per group.
template <int kBits>
float DotInt(const uint8_t* row, const float* q, size_t n, size_t group) {
  const size_t groups = Groups(n, group);
  const uint8_t* codes = row + 8 * groups;
  float total = 0;
  for (size_t g = 0; g < groups; ++g) {
    float scale, mn;
    LoadScale(row, g, &scale, &mn);
    const size_t lo = g * group, hi = std::min(n, lo + group);
    float acc_c = 0, acc_q = 0;
    for (size_t i = lo; i < hi; ++i) {
      acc_c += static_cast<float>(CodeAt<kBits>(codes, i)) * q[i];
      acc_q += q[i];
    }
    total += scale * acc_c + mn * acc_q;
  }
  return total;
}

template <int kBits>
void AxpyInt(float a, const uint8_t* row, float* y, size_t n, size_t group) {
  const size_t groups = Groups(n, group);
  const uint8_t* codes = row + 8 * groups;
  for (size_t g = 0; g < groups; ++g) {
    float scale, mn;
    LoadScale(row, g, &scale, &mn);
    const float as = a * scale, am = a * mn;
    const size_t lo = g * group, hi = std::min(n, lo + group);
    for (size_t i = lo; i < hi; ++i) y[i] += am + as * static_cast<float>(CodeAt<kBits>(codes, i));
  }
}

// Row-batched kernels from the per-row ones (the scalar reference path, and every codec without a
// batched SIMD kernel).
template <DotFn kDot>
void DotRowsEach(const uint8_t* rows, size_t row_bytes, size_t count, const float* q, size_t n, size_t group,
                 float* out) {
  for (size_t j = 0; j < count; ++j) out[j] = kDot(rows + j * row_bytes, q, n, group);
}

template <AxpyFn kAxpy>
void WeightedSumEach(const uint8_t* rows, size_t row_bytes, size_t count, const float* p, float* y, size_t n,
                     size_t group) {
  for (size_t j = 0; j < count; ++j) {
    if (p[j] != 0.0f) kAxpy(p[j], rows + j * row_bytes, y, n, group);
  }
}

template <DotFn kDot, AxpyFn kAxpy>
constexpr CodecKernels Each() {
  return {kDot, kAxpy, DotRowsEach<kDot>, WeightedSumEach<kAxpy>};
}

struct CodecImpl {
  CodecType type;
  const char* name;
  int bits;
  void (*encode)(const float*, size_t, size_t, uint8_t*);
  void (*decode)(const uint8_t*, size_t, size_t, float*);
  CodecKernels kernels;  // the portable kernels (KernelsFor may pick SIMD ones instead)
};

constexpr CodecImpl kCodecs[] = {
    {CodecType::kF32, "f32", 32, EncodeF32, DecodeF32, Each<DotF32, AxpyF32>()},
    {CodecType::kF16, "f16", 16, Encode16<FloatToHalf>, Decode16<HalfToFloat>,
     Each<Dot16<HalfToFloat>, Axpy16<HalfToFloat>>()},
    {CodecType::kBf16, "bf16", 16, Encode16<FloatToBf16>, Decode16<Bf16ToFloat>,
     Each<Dot16<Bf16ToFloat>, Axpy16<Bf16ToFloat>>()},
    {CodecType::kInt8, "int8", 8, EncodeInt<8>, DecodeInt<8>, Each<DotInt<8>, AxpyInt<8>>()},
    {CodecType::kInt4, "int4", 4, EncodeInt<4>, DecodeInt<4>, Each<DotInt<4>, AxpyInt<4>>()},
    {CodecType::kInt2, "int2", 2, EncodeInt<2>, DecodeInt<2>, Each<DotInt<2>, AxpyInt<2>>()},
};

const CodecImpl& Impl(CodecType type) {
  const auto i = static_cast<size_t>(type);
  KVLAB_CHECK(i < std::size(kCodecs));
  return kCodecs[i];
}

}  // namespace

const char* CodecName(CodecType type) { return Impl(type).name; }

std::optional<CodecType> ParseCodec(std::string_view name) {
  for (const CodecImpl& c : kCodecs) {
    if (name == c.name) return c.type;
  }
  return std::nullopt;
}

int CodecBits(CodecType type) { return Impl(type).bits; }

bool IsIntegerCodec(CodecType type) {
  return type == CodecType::kInt8 || type == CodecType::kInt4 || type == CodecType::kInt2;
}

size_t CodecRowBytes(CodecType type, size_t n, size_t group) {
  const size_t code_bytes = (n * static_cast<size_t>(CodecBits(type)) + 7) / 8;
  return code_bytes + (IsIntegerCodec(type) ? 8 * Groups(n, group) : 0);
}

std::string CodecSpec(const KvCodec& codec) {
  return std::string("k=") + CodecName(codec.k) + ",v=" + CodecName(codec.v) + ",group=" +
         std::to_string(codec.group) + ",residual=" + std::to_string(codec.residual) +
         (codec.key_axis == KeyAxis::kChannel ? ",kaxis=channel" : "");
}

void EncodeRow(CodecType type, const float* x, size_t n, size_t group, uint8_t* out) {
  Impl(type).encode(x, n, group, out);
}

void DecodeRow(CodecType type, const uint8_t* row, size_t n, size_t group, float* out) {
  Impl(type).decode(row, n, group, out);
}

namespace {
// int2 with AVX-512: the lane kernels where the shape fits (head_dim 64 or 128, whole groups of 16·k),
// the portable row-by-row kernels otherwise.
void DotRowsInt2(const uint8_t* rows, size_t row_bytes, size_t count, const float* q, size_t n, size_t group,
                 float* out) {
  if (kernels::DotRowsLanesAvx512(2, rows, row_bytes, count, q, n, group, out)) return;
  Impl(CodecType::kInt2).kernels.dot_rows(rows, row_bytes, count, q, n, group, out);
}
void WeightedSumInt2(const uint8_t* rows, size_t row_bytes, size_t count, const float* p, float* y, size_t n,
                     size_t group) {
  if (kernels::WeightedSumLanesAvx512(2, rows, row_bytes, count, p, y, n, group)) return;
  Impl(CodecType::kInt2).kernels.weighted_sum(rows, row_bytes, count, p, y, n, group);
}
}  // namespace

CodecKernels KernelsFor(CodecType type) {
  if (ActiveSimdLevel() == SimdLevel::kAvx512) {
    if (type == CodecType::kInt2) {
      const CodecKernels& portable = Impl(type).kernels;
      return {portable.dot, portable.axpy, DotRowsInt2, WeightedSumInt2};
    }
    if (type == CodecType::kInt8) {
      return {kernels::DotInt8Avx512, kernels::AxpyInt8Avx512, kernels::DotRowsInt8Avx512,
              kernels::WeightedSumInt8Avx512};
    }
    if (type == CodecType::kInt4) {
      return {kernels::DotInt4Avx512, kernels::AxpyInt4Avx512, kernels::DotRowsInt4Avx512,
              kernels::WeightedSumInt4Avx512};
    }
  }
  return Impl(type).kernels;
}

}  // namespace kvlab
