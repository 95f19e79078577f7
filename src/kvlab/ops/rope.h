// Rotary position embedding (RoPE) applied to query and key heads in place.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "kvlab/model/config.h"

namespace kvlab {

// cos/sin of pos * theta^(-2i/head_dim) for i in [0, head_dim/2), for one position.
struct RopeAngles {
  std::vector<float> cos;  // [head_dim/2]
  std::vector<float> sin;  // [head_dim/2]
  void Compute(int32_t pos, int32_t head_dim, float theta);
};

// Rotates `n_heads` heads of `head_dim` floats stored back to back: x [n_heads][head_dim].
void ApplyRope(float* x, size_t n_heads, size_t head_dim, RopeStyle style, const RopeAngles& angles);

}  // namespace kvlab
