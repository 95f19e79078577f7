#include "kvlab/analysis/tucker.h"

#include <algorithm>

#include "kvlab/analysis/symmetric_eigen.h"

namespace kvlab::analysis {

namespace {
// Leading `rank` eigenvectors of a [n][n] Gram matrix, as [n][rank].
std::vector<double> LeadingVectors(const std::vector<double>& gram, size_t n, size_t rank,
                                   std::vector<double>* values = nullptr) {
  const SymmetricEigen e = EigenSymmetric(gram, n);
  if (values != nullptr) *values = e.values;
  std::vector<double> u(n * rank);
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < rank; ++j) u[i * rank + j] = e.vectors[i * n + j];
  }
  return u;
}

// U^T for a [n][r] factor: [r][n], the matrix ModeProduct needs to project onto the factor.
std::vector<double> Transposed(const std::vector<double>& u, size_t n, size_t r) {
  std::vector<double> t(r * n);
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < r; ++j) t[j * n + i] = u[i * r + j];
  }
  return t;
}

Tensor3 ProjectAllBut(const Tensor3& x, const TuckerModel& m, size_t skip) {
  Tensor3 y = x;
  for (size_t mode = 0; mode < 3; ++mode) {
    if (mode == skip) continue;
    y = ModeProduct(y, mode, Transposed(m.factors[mode], x.dims[mode], m.ranks[mode]), m.ranks[mode]);
  }
  return y;
}
}  // namespace

TuckerModel Tucker(const Tensor3& x, std::array<size_t, 3> ranks, int hooi_iterations) {
  TuckerModel m;
  for (size_t n = 0; n < 3; ++n) {
    m.ranks[n] = ranks[n] == 0 ? x.dims[n] : std::clamp<size_t>(ranks[n], 1, std::max<size_t>(x.dims[n], 1));
    m.factors[n] = LeadingVectors(ModeGram(x, n), x.dims[n], m.ranks[n], &m.mode_energy[n]);
  }
  for (int it = 0; it < hooi_iterations; ++it) {
    for (size_t n = 0; n < 3; ++n) {
      const Tensor3 y = ProjectAllBut(x, m, n);
      m.factors[n] = LeadingVectors(ModeGram(y, n), x.dims[n], m.ranks[n]);
    }
  }
  m.core = ProjectAllBut(x, m, 3);  // skip nothing: all three projections
  return m;
}

Tensor3 Reconstruct(const TuckerModel& m) {
  Tensor3 y = m.core;
  for (size_t n = 0; n < 3; ++n) {
    const size_t rows = m.factors[n].size() / std::max<size_t>(m.ranks[n], 1);
    y = ModeProduct(y, n, m.factors[n], rows);
  }
  return y;
}

double TuckerParameterFraction(std::array<size_t, 3> dims, std::array<size_t, 3> ranks) {
  const double original = static_cast<double>(dims[0]) * dims[1] * dims[2];
  double stored = static_cast<double>(ranks[0]) * ranks[1] * ranks[2];
  for (size_t n = 0; n < 3; ++n) stored += static_cast<double>(dims[n]) * ranks[n];
  return original > 0 ? stored / original : 0.0;
}

}  // namespace kvlab::analysis
