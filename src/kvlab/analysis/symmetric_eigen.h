// Eigendecomposition of a symmetric matrix, through LAPACK's dsyevd from the OpenBLAS kvlab already links
// (OpenBLAS ships LAPACK; only the Fortran symbol is declared here, so no LAPACKE or Eigen is needed).
#pragma once

#include <cstddef>
#include <vector>

namespace kvlab::analysis {

struct SymmetricEigen {
  std::vector<double> values;   // [n] descending
  std::vector<double> vectors;  // [n][n] row-major: vectors[i * n + j] = component i of eigenvector j
};

// a: [n][n] symmetric (only the upper triangle is read). Eigenvalues in descending order.
SymmetricEigen EigenSymmetric(std::vector<double> a, size_t n);

}  // namespace kvlab::analysis
