// A dense 3-way tensor in double precision, row-major [n0][n1][n2] — for the KV cache of one layer that is
// [tokens][kv_heads][head_dim]. Small helpers only; the decompositions live in tucker.h.
#pragma once

#include <array>
#include <cstddef>
#include <vector>

namespace kvlab::analysis {

struct Tensor3 {
  std::array<size_t, 3> dims{0, 0, 0};
  std::vector<double> data;  // [dims[0]][dims[1]][dims[2]]

  Tensor3() = default;
  explicit Tensor3(std::array<size_t, 3> d) : dims(d), data(d[0] * d[1] * d[2], 0.0) {}
  size_t size() const { return data.size(); }
  double& at(size_t i, size_t j, size_t k) { return data[(i * dims[1] + j) * dims[2] + k]; }
  double at(size_t i, size_t j, size_t k) const { return data[(i * dims[1] + j) * dims[2] + k]; }
};

double FrobeniusNorm(const Tensor3& x);
// ||a - b||_F / ||a||_F (0 when both are zero). Same shapes (checked).
double RelativeError(const Tensor3& a, const Tensor3& b);

// y = x ×_mode M: M is [rows][dims[mode]] row-major; the result has dims[mode] replaced by rows.
Tensor3 ModeProduct(const Tensor3& x, size_t mode, const std::vector<double>& m, size_t rows);
// Gram matrix of the mode-`mode` unfolding, X_(n) X_(n)^T: [dims[mode]][dims[mode]].
std::vector<double> ModeGram(const Tensor3& x, size_t mode);

}  // namespace kvlab::analysis
