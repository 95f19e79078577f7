// KV codecs: how one key or value row of a KvCache is stored once it leaves the f32 residual window.
//
// A row of n = head_dim floats is encoded per token (one row = one token of one kv head), split along the
// channels into groups of `group` consecutive channels (the last group may be shorter). Integer codecs are
// asymmetric, as in KIVI (Liu et al., "KIVI: A Tuning-Free Asymmetric 2bit Quantization for KV Cache",
// ICML 2024): per group a scale s = (max - min) / (2^bits - 1) and the minimum m, code c = round((x - m) / s),
// decoded x' = m + c·s, so |x - x'| <= s/2 for every value. f16/bf16 round to nearest even and need no
// scales. Row layout (bytes, no padding): [groups × {f32 scale, f32 min}][codes packed little-endian,
// value i in bits (i·bits) mod 8 of byte (i·bits)/8].
//
// Attention never decodes a whole cache: the kernels read encoded rows inside the dot product and the value
// accumulation (kv/attention_quant.h), looked up once per head so the slot loop has no codec switch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kvlab {

enum class CodecType : uint8_t { kF32, kF16, kBf16, kInt8, kInt4, kInt2 };

// How integer key codes are grouped: per token along the channels (like values), or per channel across
// blocks of `group` tokens (KIVI's choice for keys; kv/channel_key_blocks.h).
enum class KeyAxis : uint8_t { kToken, kChannel };

// The per-cache storage choice, fixed when the KvCache is built (KvPolicy::Codec, CacheCodecFor).
struct KvCodec {
  CodecType k = CodecType::kF32;
  CodecType v = CodecType::kF32;
  uint32_t group = 32;     // channels per scale group of an integer codec
  uint32_t residual = 0;   // newest slots per head kept in f32 before they are encoded
  KeyAxis key_axis = KeyAxis::kToken;  // kChannel: integer keys in per-channel blocks of `group` tokens
  // An all-f32 codec is the plain cache: same layout, same kernels, bit-identical results.
  bool quantized() const { return k != CodecType::kF32 || v != CodecType::kF32; }
  bool operator==(const KvCodec&) const = default;
};

const char* CodecName(CodecType type);
std::optional<CodecType> ParseCodec(std::string_view name);
// Bits per stored value, scales excluded (32, 16, 16, 8, 4, 2).
int CodecBits(CodecType type);
bool IsIntegerCodec(CodecType type);
// Bytes of one encoded row of n values (codes + scales).
size_t CodecRowBytes(CodecType type, size_t n, size_t group);
// "k=int4,v=int4,group=32,residual=64" (+ ",kaxis=channel").
std::string CodecSpec(const KvCodec& codec);

// Encode / decode one row of n values.
void EncodeRow(CodecType type, const float* x, size_t n, size_t group, uint8_t* out);
void DecodeRow(CodecType type, const uint8_t* row, size_t n, size_t group, float* out);

// dot(decode(row), q) and y += a * decode(row), without materializing the decoded row.
using DotFn = float (*)(const uint8_t* row, const float* q, size_t n, size_t group);
using AxpyFn = void (*)(float a, const uint8_t* row, float* y, size_t n, size_t group);
// The same over `count` rows `row_bytes` apart, one call per head instead of one per slot:
//   DotRowsFn:     out[j] = dot(decode(row j), q)
//   WeightedSumFn: y += sum_j p[j] * decode(row j), rows with p[j] == 0 skipped
// The SIMD versions keep q / y in registers across rows and fold each group's minimum into one term per
// group (min · sum of q; sum of p · min), so a row costs its codes' multiply-adds and one reduction.
using DotRowsFn = void (*)(const uint8_t* rows, size_t row_bytes, size_t count, const float* q, size_t n,
                           size_t group, float* out);
using WeightedSumFn = void (*)(const uint8_t* rows, size_t row_bytes, size_t count, const float* p, float* y,
                               size_t n, size_t group);
struct CodecKernels {
  DotFn dot;
  AxpyFn axpy;
  DotRowsFn dot_rows;
  WeightedSumFn weighted_sum;
};
CodecKernels KernelsFor(CodecType type);

}  // namespace kvlab
