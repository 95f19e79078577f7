// RopeStyle: which dimensions of a head RoPE rotates together. A model's config names it (model/config.h);
// the RoPE kernels (ops/rope.h) and key re-rotation (kv/rerotate.h) read it, so it lives below both.
#pragma once

#include <cstdint>

namespace kvlab {

// How RoPE pairs dimensions of a head:
//   kInterleaved: (0,1), (2,3), ...        — Meta / llama2.c / GGUF llama layout
//   kHalf:        (i, i + head_dim/2)      — Hugging Face "rotate_half" (GPT-NeoX) layout
enum class RopeStyle : uint8_t { kInterleaved, kHalf };

// "interleaved", "half".
inline const char* RopeStyleName(RopeStyle r) {
  return r == RopeStyle::kInterleaved ? "interleaved" : "half";
}

}  // namespace kvlab
