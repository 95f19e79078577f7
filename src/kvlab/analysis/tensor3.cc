#include "kvlab/analysis/tensor3.h"

#include <cmath>

#include "kvlab/util/error.h"

namespace kvlab::analysis {

double FrobeniusNorm(const Tensor3& x) {
  double s = 0;
  for (double v : x.data) s += v * v;
  return std::sqrt(s);
}

double RelativeError(const Tensor3& a, const Tensor3& b) {
  KVLAB_CHECK(a.dims == b.dims);
  double diff = 0, ref = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double d = a.data[i] - b.data[i];
    diff += d * d;
    ref += a.data[i] * a.data[i];
  }
  if (ref == 0) return diff == 0 ? 0.0 : INFINITY;
  return std::sqrt(diff / ref);
}

Tensor3 ModeProduct(const Tensor3& x, size_t mode, const std::vector<double>& m, size_t rows) {
  KVLAB_CHECK(mode < 3 && m.size() == rows * x.dims[mode]);
  std::array<size_t, 3> d = x.dims;
  d[mode] = rows;
  Tensor3 y(d);
  const size_t n = x.dims[mode];
  for (size_t i = 0; i < d[0]; ++i) {
    for (size_t j = 0; j < d[1]; ++j) {
      for (size_t k = 0; k < d[2]; ++k) {
        const size_t out_idx[3] = {i, j, k};
        const size_t r = out_idx[mode];
        double s = 0;
        for (size_t t = 0; t < n; ++t) {
          size_t in_idx[3] = {i, j, k};
          in_idx[mode] = t;
          s += m[r * n + t] * x.at(in_idx[0], in_idx[1], in_idx[2]);
        }
        y.at(i, j, k) = s;
      }
    }
  }
  return y;
}

std::vector<double> ModeGram(const Tensor3& x, size_t mode) {
  KVLAB_CHECK(mode < 3);
  const size_t n = x.dims[mode];
  // Fibers of the unfolding: for every index of the other two modes, a vector over `mode`.
  std::vector<double> g(n * n, 0.0);
  std::vector<double> fiber(n);
  const size_t a = mode == 0 ? 1 : 0, b = mode == 2 ? 1 : 2;  // the other two modes, in order
  for (size_t p = 0; p < x.dims[a]; ++p) {
    for (size_t q = 0; q < x.dims[b]; ++q) {
      for (size_t t = 0; t < n; ++t) {
        size_t idx[3];
        idx[mode] = t;
        idx[a] = p;
        idx[b] = q;
        fiber[t] = x.at(idx[0], idx[1], idx[2]);
      }
      for (size_t r = 0; r < n; ++r) {
        if (fiber[r] == 0) continue;
        for (size_t c = r; c < n; ++c) g[r * n + c] += fiber[r] * fiber[c];
      }
    }
  }
  for (size_t r = 0; r < n; ++r) {
    for (size_t c = 0; c < r; ++c) g[r * n + c] = g[c * n + r];
  }
  return g;
}

}  // namespace kvlab::analysis
