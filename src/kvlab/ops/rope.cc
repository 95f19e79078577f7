#include "kvlab/ops/rope.h"

#include <cmath>

namespace kvlab {

void RopeAngles::Compute(int32_t pos, int32_t head_dim, float theta) {
  const size_t half = static_cast<size_t>(head_dim / 2);
  cos.resize(half);
  sin.resize(half);
  for (size_t i = 0; i < half; ++i) {
    // Frequency in f32 as llama2.c and HF compute it; the angle and its sin/cos in double for accuracy
    // at long positions.
    const float freq = 1.0f / std::pow(theta, static_cast<float>(2 * i) / static_cast<float>(head_dim));
    const double angle = static_cast<double>(pos) * static_cast<double>(freq);
    cos[i] = static_cast<float>(std::cos(angle));
    sin[i] = static_cast<float>(std::sin(angle));
  }
}

namespace {
// cos/sin of pos * inv_freq[i], times `scaling`: the angle in double as above; the scaling multiplies the
// f32 cos/sin, the order HF uses.
void FillAngles(int32_t pos, const std::vector<float>& inv_freq, float scaling, RopeAngles& a) {
  const size_t half = inv_freq.size();
  a.cos.resize(half);
  a.sin.resize(half);
  for (size_t i = 0; i < half; ++i) {
    const double angle = static_cast<double>(pos) * static_cast<double>(inv_freq[i]);
    a.cos[i] = static_cast<float>(std::cos(angle)) * scaling;
    a.sin[i] = static_cast<float>(std::sin(angle)) * scaling;
  }
}
}  // namespace

void RopeAngles::Compute(int32_t pos, const RopeFrequencies& f) { FillAngles(pos, f.inv_freq, f.attention_scaling, *this); }

void ApplyRope(float* x, size_t n_heads, size_t head_dim, RopeStyle style, const RopeAngles& angles) {
  const size_t half = head_dim / 2;
  for (size_t h = 0; h < n_heads; ++h) {
    float* v = x + h * head_dim;
    for (size_t i = 0; i < half; ++i) {
      // Interleaved pairs (2i, 2i+1); half-split pairs (i, i + half).
      const size_t a = style == RopeStyle::kInterleaved ? 2 * i : i;
      const size_t b = style == RopeStyle::kInterleaved ? 2 * i + 1 : i + half;
      const float x0 = v[a], x1 = v[b];
      v[a] = x0 * angles.cos[i] - x1 * angles.sin[i];
      v[b] = x0 * angles.sin[i] + x1 * angles.cos[i];
    }
  }
}

void ShiftRope(float* x, size_t n, size_t head_dim, RopeStyle style, int32_t delta, const RopeFrequencies& freqs,
               RopeAngles& scratch) {
  FillAngles(delta, freqs.inv_freq, 1.0f, scratch);
  ApplyRope(x, n, head_dim, style, scratch);
}

}  // namespace kvlab
