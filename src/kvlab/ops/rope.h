// Rotary position embedding (RoPE) applied to query and key heads in place.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "kvlab/ops/rope_frequencies.h"
#include "kvlab/ops/rope_style.h"

namespace kvlab {

// cos/sin of pos * theta^(-2i/head_dim) for i in [0, head_dim/2), for one position.
struct RopeAngles {
  std::vector<float> cos;  // [head_dim/2]
  std::vector<float> sin;  // [head_dim/2]
  void Compute(int32_t pos, int32_t head_dim, float theta);
  // cos/sin of pos * f.inv_freq[i] times f.attention_scaling (HF scales cos and sin), for a scaled RoPE
  // variant (ops/rope_frequencies.h). The plain table gives exactly Compute(pos, head_dim, theta).
  void Compute(int32_t pos, const RopeFrequencies& f);
};

// Rotates `n_heads` heads of `head_dim` floats stored back to back: x [n_heads][head_dim].
void ApplyRope(float* x, size_t n_heads, size_t head_dim, RopeStyle style, const RopeAngles& angles);

// Moves `n` vectors x [n][head_dim] that were rotated at some position p to position p + delta, by
// rotating them by delta: RoPE rotations compose, R(p + delta) = R(delta) R(p), with the frequencies the
// vectors were rotated with (`freqs`; its attention_scaling is a magnitude, applied once already, so it is
// not applied again). Used to re-rotate cached keys (kv/rerotate.h). `scratch` holds the angles of delta;
// it allocates only the first time.
void ShiftRope(float* x, size_t n, size_t head_dim, RopeStyle style, int32_t delta, const RopeFrequencies& freqs,
               RopeAngles& scratch);

}  // namespace kvlab
