#include "kvlab/ops/norms.h"

#include <cmath>

namespace kvlab {

// Statistics accumulate in double: cheap at these widths and removes one source of drift vs the reference.
void RmsNorm(const float* x, const float* w, size_t n, float eps, float* out) {
  double ss = 0;
  for (size_t i = 0; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
  const float scale = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(n) + eps));
  for (size_t i = 0; i < n; ++i) out[i] = w[i] * (x[i] * scale);
}

void LayerNorm(const float* x, const float* w, const float* b, size_t n, float eps, float* out) {
  double mean = 0;
  for (size_t i = 0; i < n; ++i) mean += x[i];
  mean /= static_cast<double>(n);
  double var = 0;
  for (size_t i = 0; i < n; ++i) var += (x[i] - mean) * (x[i] - mean);
  var /= static_cast<double>(n);
  const double inv = 1.0 / std::sqrt(var + eps);
  for (size_t i = 0; i < n; ++i) {
    const float y = static_cast<float>((x[i] - mean) * inv) * w[i];
    out[i] = b != nullptr ? y + b[i] : y;
  }
}

}  // namespace kvlab
