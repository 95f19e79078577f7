// Element-wise activations of the MLP.
#pragma once

#include <cstddef>

namespace kvlab {

// gate[i] = silu(gate[i]) * up[i]   (Llama SwiGLU). gate, up: [n].
void SwiGlu(float* gate, const float* up, size_t n);
// gate[i] = gelu_tanh(gate[i]) * up[i]   (Gemma GeGLU). gate, up: [n].
void GeluTanhGlu(float* gate, const float* up, size_t n);
// x[i] = gelu(x[i]), tanh approximation ("gelu_new") or exact erf ("gelu").
void GeluTanh(float* x, size_t n);
void GeluErf(float* x, size_t n);

}  // namespace kvlab
