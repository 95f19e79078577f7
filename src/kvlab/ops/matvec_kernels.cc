// Scalar row kernels (the portable reference path), activation quantization, and kernel selection.
#include "kvlab/ops/matvec_kernels.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>

#include "kvlab/ops/dot_kernels.h"
#include "kvlab/ops/stream_read.h"
#include "kvlab/tensor/q8_rows.h"

namespace kvlab::kernels {

// Defined in matvec_kernels_avx2.cc: f16 -> f32 with F16C (the bit-twiddling F16ToF32 is slow for panels).
void F16ToF32Avx2(const uint16_t* src, size_t n, float* dst);

size_t SizeQ8Activation(size_t n, Q8Activation& a) {
  a.n = n;
  a.blocks = Q8Blocks(n);
  const size_t padded = (a.blocks + kQ8GroupBlocks - 1) / kQ8GroupBlocks * kQ8GroupBlocks;
  if (a.d.size() < padded) {  // grows once per vector size; afterwards nothing is allocated
    a.q.resize(padded * kQ8Block);
    a.d.resize(padded);
    a.sum.resize(padded);
    a.corr_lanes.resize(padded * 8);
  }
  return padded;
}

void QuantizeActivationScalar(const float* x, size_t n, Q8Activation& a) {
  const size_t padded = SizeQ8Activation(n, a);
  for (size_t b = 0; b < padded; ++b) {
    const size_t i0 = b * kQ8Block;
    const size_t len = i0 < n ? std::min(kQ8Block, n - i0) : 0;
    float amax = 0.0f;
    for (size_t i = 0; i < len; ++i) amax = std::max(amax, std::fabs(x[i0 + i]));
    const float d = amax / 127.0f;
    const float inv = d > 0.0f ? 1.0f / d : 0.0f;
    int32_t sum = 0;
    for (size_t i = 0; i < kQ8Block; ++i) {
      // Round half away from zero (as llama.cpp's roundf) with plain arithmetic, so the loop vectorizes.
      const float v = i < len ? x[i0 + i] * inv : 0.0f;
      const int q = static_cast<int>(v + (v >= 0.0f ? 0.5f : -0.5f));
      a.q[i0 + i] = static_cast<int8_t>(std::clamp(q, -127, 127));
      sum += a.q[i0 + i];
    }
    a.d[b] = d;
    a.sum[b] = sum;
    for (size_t l = 0; l < 8; ++l) a.corr_lanes[b * 8 + l] = -16 * sum;
  }
}

void QuantizeActivation(const float* x, size_t n, Q8Activation& a) {
  if (ActiveSimdLevel() == SimdLevel::kAvx512) {
    QuantizeActivationAvx512(x, n, a);
  } else {
    QuantizeActivationScalar(x, n, a);
  }
}

void F32RowsScalar(const uint8_t* w, size_t row_bytes, size_t rows, const void* x, size_t n, float* out) {
  DotRowsScalar(reinterpret_cast<const float*>(w), row_bytes / sizeof(float), rows, static_cast<const float*>(x), n,
                out);
}

namespace {
// Four partial sums, as in DotRowsScalar, so the rounding is close to the SIMD paths'.
template <typename ToF32>
void HalfRows(const uint8_t* w, size_t row_bytes, size_t rows, const float* x, size_t n, float* out, ToF32 cvt) {
  for (size_t r = 0; r < rows; ++r) {
    const uint8_t* row = w + r * row_bytes;
    float s[4] = {0, 0, 0, 0};
    for (size_t i = 0; i < n; ++i) {
      uint16_t h;
      std::memcpy(&h, row + 2 * i, 2);
      s[i % 4] += cvt(h) * x[i];
    }
    out[r] = (s[0] + s[1]) + (s[2] + s[3]);
  }
}
}  // namespace

void Bf16RowsScalar(const uint8_t* w, size_t row_bytes, size_t rows, const void* x, size_t n, float* out) {
  HalfRows(w, row_bytes, rows, static_cast<const float*>(x), n, out, Bf16ToF32);
}

void F16RowsScalar(const uint8_t* w, size_t row_bytes, size_t rows, const void* x, size_t n, float* out) {
  HalfRows(w, row_bytes, rows, static_cast<const float*>(x), n, out, F16ToF32);
}

// Integer dot per block (exact), scaled by weight scale * activation scale, summed in f32.
void Q8RowsScalar(const uint8_t* w, size_t row_bytes, size_t rows, const void* x, size_t n, float* out) {
  const auto& a = *static_cast<const Q8Activation*>(x);
  const size_t nb = Q8Blocks(n);
  for (size_t r = 0; r < rows; ++r) {
    const uint8_t* row = w + r * row_bytes;
    float acc = 0.0f;
    for (size_t b = 0; b < nb; ++b) {
      int32_t dot = 0;
      for (size_t i = 0; i < kQ8Block; ++i) {
        dot += (static_cast<int32_t>(row[b * kQ8Block + i]) - 128) * a.q[b * kQ8Block + i];
      }
      uint16_t d16;
      std::memcpy(&d16, row + nb * kQ8Block + 2 * b, 2);
      acc += F16ToF32(d16) * a.d[b] * static_cast<float>(dot);
    }
    out[r] = acc;
  }
}

namespace {
std::atomic<bool> g_probe_matvecs{false};
// What ProbeRows read, kept so that no compiler drops the reads.
thread_local uint64_t t_probe_checksum = 0;
}  // namespace

void ProbeRows(const uint8_t* w, size_t row_bytes, size_t rows, const void*, size_t, float* out) {
  const size_t bytes = rows * row_bytes;
  const size_t whole = bytes / 64 * 64;  // StreamSum's unit; the last few bytes are read one by one
  const auto* p = reinterpret_cast<const std::byte*>(w);
  uint64_t sum = StreamSumKernel(StreamRead::kPrefetched)(p, whole);
  for (size_t i = whole; i < bytes; ++i) sum += w[i];
  t_probe_checksum += sum;
  std::fill(out, out + rows, 0.0f);
}

void SetProbeMatVecs(bool on) { g_probe_matvecs.store(on, std::memory_order_relaxed); }

RowsFn RowsKernel(DType t) {
  if (g_probe_matvecs.load(std::memory_order_relaxed)) return ProbeRows;
  return RowsKernel(t, ActiveSimdLevel());
}

RowsFn RowsKernel(DType t, SimdLevel level) {
  const bool vnni = CpuHasAvx512Vnni();
  if (level == SimdLevel::kAvx512) {
    switch (t) {
      case DType::kF32: return F32RowsAvx512;
      case DType::kBF16: return Bf16RowsAvx512;
      case DType::kF16: return F16RowsAvx512;
      case DType::kQ8: return vnni ? Q8RowsAvx512 : Q8RowsAvx2;
      default: return nullptr;  // GGUF block types are file formats: dequantized or repacked at load
    }
  }
  if (level == SimdLevel::kAvx2) {
    switch (t) {
      case DType::kF32: return F32RowsAvx2;
      case DType::kBF16: return Bf16RowsAvx2;
      case DType::kF16: return F16RowsAvx2;
      case DType::kQ8: return Q8RowsAvx2;
      default: return nullptr;  // GGUF block types are file formats: dequantized or repacked at load
    }
  }
  switch (t) {
    case DType::kF32: return F32RowsScalar;
    case DType::kBF16: return Bf16RowsScalar;
    case DType::kF16: return F16RowsScalar;
    case DType::kQ8: return Q8RowsScalar;
    default: return nullptr;  // GGUF block types are file formats: dequantized or repacked at load
  }
}

void DecodeRow(DType t, const uint8_t* row, size_t n, float* out) {
  if (t == DType::kF16 && ActiveSimdLevel() != SimdLevel::kScalar) {
    F16ToF32Avx2(reinterpret_cast<const uint16_t*>(row), n, out);  // F16C: every AVX2 level checks for it
    return;
  }
  if (t == DType::kBF16) {  // a shift; the compiler vectorizes this loop
    for (size_t i = 0; i < n; ++i) {
      uint16_t h;
      std::memcpy(&h, row + 2 * i, 2);
      out[i] = Bf16ToF32(h);
    }
    return;
  }
  ConvertToF32(t, row, n, out);
}

}  // namespace kvlab::kernels
