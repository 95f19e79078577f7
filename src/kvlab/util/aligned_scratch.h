// A reusable scratch buffer's 64-byte aligned run of floats (AVX-512 aligned loads and stores), for the
// kernels' per-thread scratch vectors, which grow to the largest size asked for and are never shrunk.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace kvlab {

inline float* AlignedScratch(std::vector<float>& v, size_t n) {
  constexpr size_t kAlignFloats = 64 / sizeof(float);
  if (v.size() < n + kAlignFloats) v.resize(n + kAlignFloats);
  const auto address = reinterpret_cast<uintptr_t>(v.data());
  return v.data() + (kAlignFloats - address / sizeof(float) % kAlignFloats) % kAlignFloats;
}

}  // namespace kvlab
