// Normalizations applied before attention and MLP.
#pragma once

#include <cstddef>

namespace kvlab {

// out = x / rms(x) * w          (Llama RMSNorm). x, out: [n]; may alias.
void RmsNorm(const float* x, const float* w, size_t n, float eps, float* out);
// out = (x - mean) / std * w + b (GPT-2 LayerNorm). b may be null. x, out: [n]; may alias.
void LayerNorm(const float* x, const float* w, const float* b, size_t n, float eps, float* out);

}  // namespace kvlab
