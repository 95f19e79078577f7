#include "kvlab/ops/norms.h"

#include <cmath>

namespace kvlab {

namespace {
// The sum of squares runs in 8 independent partial sums, combined in a fixed order: one chain of double
// adds (3-4 cycles each) made a 768-wide norm cost 1-2 µs, on one thread while the other waited (a decode
// step has two per layer). Each square is exact in double, so only the order of the adds differs from one
// running sum, far below the float scale's precision.
double SumOfSquares(const float* x, size_t n) {
  constexpr size_t kLanes = 8;
  double part[kLanes] = {};
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (size_t l = 0; l < kLanes; ++l) part[l] += static_cast<double>(x[i + l]) * x[i + l];
  }
  for (; i < n; ++i) part[i % kLanes] += static_cast<double>(x[i]) * x[i];
  return ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
}
}  // namespace

// Statistics accumulate in double: cheap at these widths and removes one source of drift vs the reference.
void RmsNorm(const float* x, const float* w, size_t n, float eps, float* out) {
  const double ss = SumOfSquares(x, n);
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
