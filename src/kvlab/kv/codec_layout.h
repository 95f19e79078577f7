// The byte layout of an integer codec row (kv/codec.h), shared by the scalar codecs, their SIMD kernels
// and the per-channel key blocks: [groups × {f32 scale, f32 min}] then codes packed little-endian, value i
// in bits (i·bits) mod 8 of byte (i·bits)/8.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace kvlab::codec_layout {

inline size_t Groups(size_t n, size_t group) { return (n + group - 1) / group; }

// Scale and minimum of group g (unaligned: rows are packed without padding).
inline void LoadScale(const uint8_t* row, size_t g, float* scale, float* min) {
  std::memcpy(scale, row + 8 * g, 4);
  std::memcpy(min, row + 8 * g + 4, 4);
}

template <int kBits>
uint32_t CodeAt(const uint8_t* codes, size_t i) {
  const size_t bit = i * kBits;
  return (codes[bit / 8] >> (bit % 8)) & ((1u << kBits) - 1u);
}

}  // namespace kvlab::codec_layout
