// Tucker decomposition (analysis/tucker.h) and its linear algebra on hand-checkable cases.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "kvlab/analysis/symmetric_eigen.h"
#include "kvlab/analysis/tucker.h"

namespace kvlab::analysis {
namespace {

Tensor3 RandomTensor(std::array<size_t, 3> dims, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> n(0.0, 1.0);
  Tensor3 x(dims);
  for (double& v : x.data) v = n(rng);
  return x;
}

std::vector<double> RandomMatrix(size_t rows, size_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> n(0.0, 1.0);
  std::vector<double> m(rows * cols);
  for (double& v : m) v = n(rng);
  return m;
}

TEST(SymmetricEigen, TwoByTwoHandCase) {
  const SymmetricEigen e = EigenSymmetric({2, 1, 1, 2}, 2);
  ASSERT_EQ(e.values.size(), 2u);
  EXPECT_NEAR(e.values[0], 3.0, 1e-12);
  EXPECT_NEAR(e.values[1], 1.0, 1e-12);
  // Leading eigenvector ±(1, 1)/sqrt(2), stored as column 0.
  EXPECT_NEAR(std::fabs(e.vectors[0 * 2 + 0]), std::sqrt(0.5), 1e-12);
  EXPECT_NEAR(e.vectors[0 * 2 + 0], e.vectors[1 * 2 + 0], 1e-12);
}

TEST(Tensor3, ModeGramHandCase) {
  Tensor3 x({2, 1, 2});
  x.at(0, 0, 0) = 1;
  x.at(0, 0, 1) = 2;
  x.at(1, 0, 0) = 3;
  x.at(1, 0, 1) = 4;
  // Mode 0 unfolding rows (1,2), (3,4): Gram [[5,11],[11,25]]. Mode 2: columns (1,3),(2,4):
  // [[10,14],[14,20]].
  EXPECT_EQ(ModeGram(x, 0), (std::vector<double>{5, 11, 11, 25}));
  EXPECT_EQ(ModeGram(x, 2), (std::vector<double>{10, 14, 14, 20}));
  EXPECT_EQ(ModeGram(x, 1), (std::vector<double>{30}));
}

TEST(Tucker, FullRanksReconstructExactly) {
  const Tensor3 x = RandomTensor({24, 4, 8}, 1);
  for (int iters : {0, 2}) {
    const TuckerModel m = Tucker(x, {0, 0, 0}, iters);
    EXPECT_EQ(m.ranks, (std::array<size_t, 3>{24, 4, 8}));
    EXPECT_LT(RelativeError(x, Reconstruct(m)), 1e-10) << "hooi " << iters;
  }
}

TEST(Tucker, PlantedLowRankTensorIsRecoveredAtItsRank) {
  // X = G ×0 A ×1 B ×2 C with a 3x2x2 core: multilinear rank (3, 2, 2) whatever A, B, C are.
  Tensor3 core = RandomTensor({3, 2, 2}, 7);
  Tensor3 x = ModeProduct(core, 0, RandomMatrix(20, 3, 8), 20);
  x = ModeProduct(x, 1, RandomMatrix(4, 2, 9), 4);
  x = ModeProduct(x, 2, RandomMatrix(6, 2, 10), 6);
  EXPECT_LT(RelativeError(x, Reconstruct(Tucker(x, {3, 2, 2}))), 1e-9);
  // One rank short in any mode loses real energy.
  EXPECT_GT(RelativeError(x, Reconstruct(Tucker(x, {2, 2, 2}))), 1e-3);
  EXPECT_GT(RelativeError(x, Reconstruct(Tucker(x, {3, 2, 1}))), 1e-3);
  // The spectrum says so too: mode 2 has exactly 2 non-zero components.
  const TuckerModel m = Tucker(x, {3, 2, 2});
  ASSERT_EQ(m.mode_energy[2].size(), 6u);
  EXPECT_GT(m.mode_energy[2][1], 1e-6);
  EXPECT_LT(m.mode_energy[2][2], 1e-9 * m.mode_energy[2][0]);
}

TEST(Tucker, HooiNeverWorseThanHosvd) {
  const Tensor3 x = RandomTensor({16, 4, 8}, 3);
  for (std::array<size_t, 3> r : {std::array<size_t, 3>{4, 2, 3}, std::array<size_t, 3>{8, 1, 5}}) {
    const double hosvd = RelativeError(x, Reconstruct(Tucker(x, r, 0)));
    const double hooi = RelativeError(x, Reconstruct(Tucker(x, r, 3)));
    EXPECT_LE(hooi, hosvd + 1e-12);
    EXPECT_GT(hosvd, 0.1);  // a random tensor is not low rank
  }
}

TEST(Tucker, ParameterFractionHandCase) {
  // dims (4,2,3) = 24 numbers; ranks (2,1,3): core 6 + factors 4*2 + 2*1 + 3*3 = 25.
  EXPECT_DOUBLE_EQ(TuckerParameterFraction({4, 2, 3}, {2, 1, 3}), 25.0 / 24.0);
}

}  // namespace
}  // namespace kvlab::analysis
