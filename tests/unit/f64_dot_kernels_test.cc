// ops/f64_dot_kernels.h: the scalar and AVX-512 paths give the same bits (nearest-summary choices must not
// depend on the machine), and both agree with a plain long-double sum.
#include "kvlab/ops/f64_dot_kernels.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kvlab/ops/cpu_features.h"

namespace kvlab {
namespace {

struct Rows {
  std::vector<float> x, data;     // [n], [rows][n]
  std::vector<const float*> ptr;  // [rows]
};

Rows RandomRows(size_t rows, size_t n, std::mt19937& rng) {
  std::normal_distribution<float> d(0.0f, 1.0f);
  Rows r;
  r.x.resize(n);
  for (float& v : r.x) v = d(rng);
  r.data.resize(rows * n);
  for (float& v : r.data) v = d(rng) * 3.0f;
  for (size_t i = 0; i < rows; ++i) r.ptr.push_back(r.data.data() + i * n);
  return r;
}

TEST(F64DotKernels, ScalarMatchesLongDoubleReference) {
  std::mt19937 rng(5);
  for (size_t n : {1u, 7u, 8u, 9u, 64u, 70u, 128u}) {
    const Rows r = RandomRows(5, n, rng);
    std::vector<double> dot(5), norm2(5), dist(5);
    kernels::DotsAndNormsF64Scalar(r.x.data(), r.ptr.data(), 5, n, dot.data(), norm2.data());
    kernels::SquaredDistancesF64Scalar(r.x.data(), r.ptr.data(), 5, n, dist.data());
    for (size_t j = 0; j < 5; ++j) {
      long double d = 0, c = 0, s = 0;
      for (size_t i = 0; i < n; ++i) {
        const long double a = r.x[i], b = r.ptr[j][i];
        d += a * b;
        c += b * b;
        s += (a - b) * (a - b);
      }
      EXPECT_NEAR(dot[j], static_cast<double>(d), 1e-12 * static_cast<double>(c + 1)) << n;
      EXPECT_NEAR(norm2[j], static_cast<double>(c), 1e-12 * static_cast<double>(c)) << n;
      EXPECT_NEAR(dist[j], static_cast<double>(s), 1e-12 * static_cast<double>(s)) << n;
    }
  }
}

TEST(F64DotKernels, Avx512GivesTheScalarBits) {
  if (DetectSimdLevel() < SimdLevel::kAvx512) GTEST_SKIP() << "no AVX-512 on this CPU";
  std::mt19937 rng(6);
  for (size_t n = 1; n <= 80; ++n) {
    const Rows r = RandomRows(17, n, rng);
    std::vector<double> dot(17), norm2(17), dist(17), dot_simd(17), norm2_simd(17), dist_simd(17);
    kernels::DotsAndNormsF64Scalar(r.x.data(), r.ptr.data(), 17, n, dot.data(), norm2.data());
    kernels::DotsAndNormsF64Avx512(r.x.data(), r.ptr.data(), 17, n, dot_simd.data(), norm2_simd.data());
    kernels::SquaredDistancesF64Scalar(r.x.data(), r.ptr.data(), 17, n, dist.data());
    kernels::SquaredDistancesF64Avx512(r.x.data(), r.ptr.data(), 17, n, dist_simd.data());
    for (size_t j = 0; j < 17; ++j) {
      ASSERT_EQ(dot[j], dot_simd[j]) << "n=" << n << " row " << j;
      ASSERT_EQ(norm2[j], norm2_simd[j]) << "n=" << n << " row " << j;
      ASSERT_EQ(dist[j], dist_simd[j]) << "n=" << n << " row " << j;
    }
  }
}

}  // namespace
}  // namespace kvlab
