// The SIMD exp kernels (softmax, SwiGLU) against std::exp: accuracy over the whole float range, the special
// values softmax relies on (exp(-inf) = 0 exactly, NaN stays NaN, overflow to inf), and every tail length.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kvlab/ops/attention.h"
#include "kvlab/ops/cpu_features.h"
#include "kvlab/ops/exp_kernels.h"
#include "simd_levels.h"

namespace kvlab {
namespace {

struct ExpLevel {
  SimdLevel level;
  kernels::ExpShiftSumFn exp_sum;
  kernels::SiluMulFn silu_mul;
};

std::vector<ExpLevel> Levels() {
  std::vector<ExpLevel> out = {{SimdLevel::kScalar, kernels::ExpShiftSumScalar, kernels::SiluMulScalar}};
  if (DetectSimdLevel() >= SimdLevel::kAvx2) out.push_back({SimdLevel::kAvx2, kernels::ExpShiftSumAvx2, kernels::SiluMulAvx2});
  if (DetectSimdLevel() >= SimdLevel::kAvx512) {
    out.push_back({SimdLevel::kAvx512, kernels::ExpShiftSumAvx512, kernels::SiluMulAvx512});
  }
  return out;
}

// Within 4 ulp of the correctly rounded value, or within one subnormal step below the normal range.
void ExpectCloseToExp(float got, double x, const char* level) {
  const double want = std::exp(x);
  if (std::isinf(want) || want > std::numeric_limits<float>::max()) {
    EXPECT_TRUE(std::isinf(got) && got > 0) << level << " x=" << x << " got " << got;
    return;
  }
  const double tol = std::max(4.0 * std::numeric_limits<float>::epsilon() * want,
                              static_cast<double>(std::numeric_limits<float>::denorm_min()));
  EXPECT_NEAR(got, want, tol) << level << " x=" << x;
}

TEST(ExpKernels, ExpShiftSumMatchesStdExpAcrossTheRange) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-105.0f, 89.0f);
  std::vector<float> xs;
  for (int i = 0; i < 20000; ++i) xs.push_back(u(rng));
  for (float x : {0.0f, -0.0f, 1.0f, -1.0f, 88.7f, 88.72f, -87.3f, -87.4f, -100.0f, -103.9f, 1e-8f, -1e-8f}) xs.push_back(x);
  for (const ExpLevel& lv : Levels()) {
    std::vector<float> y = xs;
    const float shift = 0.0f;
    const float sum = lv.exp_sum(y.data(), y.size(), shift);
    double ref_sum = 0;
    for (size_t i = 0; i < xs.size(); ++i) {
      ExpectCloseToExp(y[i], static_cast<double>(xs[i]) - shift, SimdLevelName(lv.level));
      ref_sum += std::exp(static_cast<double>(xs[i]));
    }
    if (!std::isinf(ref_sum) && ref_sum < std::numeric_limits<float>::max()) {
      EXPECT_NEAR(sum, ref_sum, 1e-5 * ref_sum) << SimdLevelName(lv.level);
    }
  }
}

TEST(ExpKernels, SpecialValuesAndEveryTailLength) {
  const float inf = std::numeric_limits<float>::infinity();
  for (const ExpLevel& lv : Levels()) {
    for (size_t n = 0; n <= 40; ++n) {
      std::vector<float> x(n + 1, 777.0f);  // x[n] is a guard: kernels must not write past n
      for (size_t i = 0; i < n; ++i) x[i] = (i % 3 == 0) ? -inf : 0.5f * static_cast<float>(i);
      const float sum = lv.exp_sum(x.data(), n, 2.0f);
      double ref = 0;
      for (size_t i = 0; i < n; ++i) {
        if (i % 3 == 0) {
          EXPECT_EQ(x[i], 0.0f) << SimdLevelName(lv.level) << ": exp(-inf) must be exactly 0";
        } else {
          ExpectCloseToExp(x[i], 0.5 * static_cast<double>(i) - 2.0, SimdLevelName(lv.level));
          ref += std::exp(0.5 * static_cast<double>(i) - 2.0);
        }
      }
      EXPECT_NEAR(sum, ref, 1e-6 * ref + 1e-30) << SimdLevelName(lv.level) << " n=" << n;
      EXPECT_EQ(x[n], 777.0f) << SimdLevelName(lv.level) << " wrote past the end, n=" << n;
    }
    std::vector<float> special = {std::numeric_limits<float>::quiet_NaN(), inf, 200.0f, -200.0f};
    lv.exp_sum(special.data(), special.size(), 0.0f);
    EXPECT_TRUE(std::isnan(special[0])) << SimdLevelName(lv.level);
    EXPECT_EQ(special[1], inf) << SimdLevelName(lv.level);
    EXPECT_EQ(special[2], inf) << SimdLevelName(lv.level);
    EXPECT_EQ(special[3], 0.0f) << SimdLevelName(lv.level);
  }
}

TEST(ExpKernels, SiluMulMatchesReference) {
  std::mt19937 rng(9);
  std::normal_distribution<float> d(0.0f, 4.0f);
  for (const ExpLevel& lv : Levels()) {
    for (size_t n : {1u, 7u, 8u, 15u, 16u, 17u, 33u, 2048u}) {
      std::vector<float> gate(n + 1, 555.0f), up(n);
      for (size_t i = 0; i < n; ++i) {
        gate[i] = d(rng);
        up[i] = d(rng);
      }
      gate[0] = -120.0f;  // exp(120) overflows: silu must still be (-)0, not NaN
      const std::vector<float> g0 = gate;
      lv.silu_mul(gate.data(), up.data(), n);
      for (size_t i = 0; i < n; ++i) {
        const double g = g0[i];
        const double want = g / (1.0 + std::exp(-g)) * up[i];
        EXPECT_NEAR(gate[i], want, 1e-6 * std::abs(want) + 1e-30) << SimdLevelName(lv.level) << " g=" << g;
      }
      EXPECT_EQ(gate[n], 555.0f) << SimdLevelName(lv.level) << " wrote past the end";
    }
  }
}

// The softmax built on the kernel: masked slots (after the query) get probability exactly 0, the rest sum
// to 1, and a summary slot weighs log(count) more.
TEST(ExpKernels, CausalSoftmaxMasksExactlyAndNormalizes) {
  std::vector<SlotMeta> meta = {{0, 1}, {1, 1}, {2, 4}, {5, 1}, {3, 1}};
  std::vector<float> scores = {1.0f, 2.0f, 0.5f, 9.0f, -1.0f};
  ASSERT_TRUE(CausalSoftmax(scores.data(), meta, 0.5f, 3));
  EXPECT_EQ(scores[3], 0.0f);
  double sum = 0;
  for (float p : scores) sum += p;
  EXPECT_NEAR(sum, 1.0, 1e-6);
  const double l0 = 0.5, l1 = 1.0, l2 = 0.25 + std::log(4.0), l4 = -0.5;
  const double z = std::exp(l0) + std::exp(l1) + std::exp(l2) + std::exp(l4);
  EXPECT_NEAR(scores[0], std::exp(l0) / z, 1e-6);
  EXPECT_NEAR(scores[2], std::exp(l2) / z, 1e-6);
  EXPECT_NEAR(scores[4], std::exp(l4) / z, 1e-6);
}

// The same softmax at every SIMD level against f64 on longer rows: 16-slot blocks and their tails, masked
// slots scattered (positions after the query), summary slots, and a row with nothing visible.
TEST(ExpKernels, CausalSoftmaxMatchesDoubleAtEverySimdLevel) {
  ForEachSimdLevel([&](SimdLevel level) {
    for (size_t n : {1, 5, 15, 16, 17, 33, 70}) {
      std::mt19937 rng(static_cast<uint32_t>(n));
      std::normal_distribution<float> gauss(0.0f, 2.0f);
      std::vector<SlotMeta> meta(n);
      std::vector<float> scores(n);
      const int32_t query_pos = static_cast<int32_t>(n);
      for (size_t j = 0; j < n; ++j) {
        // Every 5th slot is after the query; every 7th a summary of 3 tokens.
        meta[j] = {j % 5 == 4 ? query_pos + 1 : static_cast<int32_t>(j), j % 7 == 6 ? 3u : 1u};
        scores[j] = gauss(rng);
      }
      std::vector<double> want(n, 0.0);
      double z = 0;
      for (size_t j = 0; j < n; ++j) {
        if (meta[j].pos > query_pos) continue;
        want[j] = std::exp(0.5 * scores[j] + std::log(static_cast<double>(meta[j].count)));
        z += want[j];
      }
      const std::string where = std::string(SimdLevelName(level)) + " n=" + std::to_string(n);
      ASSERT_TRUE(CausalSoftmax(scores.data(), meta, 0.5f, query_pos)) << where;
      for (size_t j = 0; j < n; ++j) {
        if (meta[j].pos > query_pos) {
          EXPECT_EQ(scores[j], 0.0f) << where << " slot " << j;
        } else {
          EXPECT_NEAR(scores[j], want[j] / z, 1e-6 * want[j] / z + 1e-7) << where << " slot " << j;
        }
      }
      std::vector<float> none(n, 1.0f);
      EXPECT_FALSE(CausalSoftmax(none.data(), meta, 0.5f, -1)) << where;
      for (float p : none) EXPECT_EQ(p, 0.0f) << where;
    }
  });
}

}  // namespace
}  // namespace kvlab
