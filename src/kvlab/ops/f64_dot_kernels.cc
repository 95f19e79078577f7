#include "kvlab/ops/f64_dot_kernels.h"

#include "kvlab/ops/cpu_features.h"

namespace kvlab::kernels {

namespace {
double SumLanes(const double (&lanes)[kF64Lanes]) {
  double total = 0;
  for (double v : lanes) total += v;
  return total;
}
}  // namespace

void DotsAndNormsF64Scalar(const float* x, const float* const* rows, size_t n_rows, size_t n, double* dot,
                           double* norm2) {
  for (size_t r = 0; r < n_rows; ++r) {
    const float* c = rows[r];
    double d[kF64Lanes] = {}, cc[kF64Lanes] = {};
    for (size_t i = 0; i < n; ++i) {
      const double a = x[i], b = c[i];
      d[i % kF64Lanes] += a * b;
      cc[i % kF64Lanes] += b * b;
    }
    dot[r] = SumLanes(d);
    norm2[r] = SumLanes(cc);
  }
}

void SquaredDistancesF64Scalar(const float* x, const float* const* rows, size_t n_rows, size_t n,
                               double* out) {
  for (size_t r = 0; r < n_rows; ++r) {
    const float* c = rows[r];
    double s[kF64Lanes] = {};
    for (size_t i = 0; i < n; ++i) {
      const double diff = static_cast<double>(x[i]) - c[i];
      s[i % kF64Lanes] += diff * diff;
    }
    out[r] = SumLanes(s);
  }
}

DotsAndNormsF64Fn DotsAndNormsF64Kernel() {
  return ActiveSimdLevel() == SimdLevel::kAvx512 ? DotsAndNormsF64Avx512 : DotsAndNormsF64Scalar;
}

SquaredDistancesF64Fn SquaredDistancesF64Kernel() {
  return ActiveSimdLevel() == SimdLevel::kAvx512 ? SquaredDistancesF64Avx512 : SquaredDistancesF64Scalar;
}

}  // namespace kvlab::kernels
