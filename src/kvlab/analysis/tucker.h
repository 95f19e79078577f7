// Tucker decomposition of a 3-way tensor: X ≈ G ×0 U0 ×1 U1 ×2 U2 with orthonormal factors U_n
// [dims[n]][rank[n]] and a core G [rank0][rank1][rank2].
//
// HOSVD (De Lathauwer et al. 2000): U_n = leading eigenvectors of the mode-n Gram matrix X_(n) X_(n)^T
// (= left singular vectors of the unfolding), G = X ×0 U0^T ×1 U1^T ×2 U2^T. HOOI then refines each factor
// with the others fixed (leading eigenvectors of the Gram of X projected on the other factors), which never
// increases the error. With full ranks the factors are square orthogonal and the reconstruction is exact.
#pragma once

#include <array>
#include <cstddef>
#include <vector>

#include "kvlab/analysis/tensor3.h"

namespace kvlab::analysis {

struct TuckerModel {
  std::array<size_t, 3> ranks{0, 0, 0};
  std::array<std::vector<double>, 3> factors;  // factors[n]: [dims[n]][ranks[n]] row-major
  Tensor3 core;                                // [ranks[0]][ranks[1]][ranks[2]]
  // Eigenvalues of each mode's Gram matrix of X (squared singular values of the unfoldings), descending:
  // the energy per component, whatever the ranks, for spectrum plots.
  std::array<std::vector<double>, 3> mode_energy;
};

// ranks[n] is clamped to [1, dims[n]]; 0 means full rank. hooi_iterations 0 = plain HOSVD.
TuckerModel Tucker(const Tensor3& x, std::array<size_t, 3> ranks, int hooi_iterations = 0);
Tensor3 Reconstruct(const TuckerModel& m);
// Stored numbers (core + factors) / numbers of the original tensor: the compression is its inverse.
double TuckerParameterFraction(std::array<size_t, 3> dims, std::array<size_t, 3> ranks);

}  // namespace kvlab::analysis
