// Every SIMD kernel against a plain f64 reference on random inputs, including odd sizes and unaligned tails.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kvlab/ops/cpu_features.h"
#include "kvlab/ops/dot_kernels.h"
#include "kvlab/ops/matmul.h"
#include "kvlab/ops/threads.h"
#include "kvlab/tensor/dtype.h"

namespace kvlab {
namespace {

std::vector<float> RandomVector(size_t n, std::mt19937& rng) {
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

// f64 reference and the sum of |w_i x_i|, which bounds the f32 rounding error of any summation order.
std::pair<double, double> ReferenceDot(const float* w, const float* x, size_t n) {
  double s = 0, mag = 0;
  for (size_t i = 0; i < n; ++i) {
    s += static_cast<double>(w[i]) * x[i];
    mag += std::abs(static_cast<double>(w[i]) * x[i]);
  }
  return {s, mag};
}

struct Level {
  SimdLevel level;
  kernels::DotRowsFn fn;
};

std::vector<Level> AvailableLevels() {
  std::vector<Level> out = {{SimdLevel::kScalar, kernels::DotRowsScalar}};
  const SimdLevel best = DetectSimdLevel();
  if (best >= SimdLevel::kAvx2) out.push_back({SimdLevel::kAvx2, kernels::DotRowsAvx2});
  if (best >= SimdLevel::kAvx512) out.push_back({SimdLevel::kAvx512, kernels::DotRowsAvx512});
  return out;
}

TEST(DotRows, MatchesF64ReferenceAtEveryLevelAndOddSize) {
  std::mt19937 rng(7);
  for (const Level& lv : AvailableLevels()) {
    for (size_t n : {1u, 3u, 7u, 8u, 15u, 16u, 17u, 31u, 33u, 64u, 100u, 256u, 257u, 320u, 768u, 1001u}) {
      // 16 and more rows take the AVX-512 16-row pass for short rows (n <= 256), then its 4-row tail;
      // longer rows its one-row-at-a-time pass, 64 floats per step and a masked tail (257, 1001), each 16
      // rows' sums folded together (16, 21, 50 rows) and the rest one by one.
      for (size_t rows : {1u, 2u, 3u, 4u, 5u, 9u, 16u, 21u, 50u}) {
        // Offset by one float so the rows are not 64-byte aligned, and pad the stride.
        const size_t stride = n + 3;
        std::vector<float> w = RandomVector(rows * stride + 1, rng);
        std::vector<float> x = RandomVector(n + 1, rng);
        std::vector<float> out(rows);
        lv.fn(w.data() + 1, stride, rows, x.data() + 1, n, out.data());
        for (size_t r = 0; r < rows; ++r) {
          auto [ref, mag] = ReferenceDot(w.data() + 1 + r * stride, x.data() + 1, n);
          EXPECT_NEAR(out[r], ref, 1e-6 * mag + 1e-6)
              << SimdLevelName(lv.level) << " n=" << n << " rows=" << rows << " r=" << r;
        }
      }
    }
  }
}

TEST(WeightedRowSum, MatchesF64ReferenceAtEveryLevelAndWidth) {
  std::mt19937 rng(13);
  std::vector<std::pair<SimdLevel, kernels::WeightedRowSumFn>> levels = {{SimdLevel::kScalar, kernels::WeightedRowSumScalar}};
  if (DetectSimdLevel() >= SimdLevel::kAvx2) levels.emplace_back(SimdLevel::kAvx2, kernels::WeightedRowSumAvx2);
  if (DetectSimdLevel() >= SimdLevel::kAvx512) levels.emplace_back(SimdLevel::kAvx512, kernels::WeightedRowSumAvx512);
  for (const auto& [level, fn] : levels) {
    for (size_t n : {1u, 7u, 8u, 16u, 17u, 64u, 100u, 128u, 129u, 200u, 256u}) {
      for (size_t rows : {1u, 3u, 50u}) {
        const size_t stride = n + 5;
        std::vector<float> v = RandomVector(rows * stride + 1, rng), p = RandomVector(rows, rng);
        p[rows / 2] = 0.0f;  // a masked row is skipped, not multiplied
        std::vector<float> out(n + 1, 123.0f);
        fn(v.data() + 1, stride, rows, p.data(), n, out.data());
        for (size_t i = 0; i < n; ++i) {
          double ref = 0, mag = 0;
          for (size_t j = 0; j < rows; ++j) {
            ref += static_cast<double>(p[j]) * v[1 + j * stride + i];
            mag += std::abs(static_cast<double>(p[j]) * v[1 + j * stride + i]);
          }
          ASSERT_NEAR(out[i], ref, 1e-6 * mag + 1e-6) << SimdLevelName(level) << " n=" << n << " rows=" << rows;
        }
        EXPECT_EQ(out[n], 123.0f) << "wrote past the end";
      }
    }
  }
}

TEST(MatVecMany, SplitsRowsOfSeveralMatricesCorrectly) {
  std::mt19937 rng(11);
  for (int threads : {1, 2, 3}) {
    SetNumThreads(threads);
    // Row counts that are not multiples of the row block, and one tiny matrix.
    const int64_t cols = 37;
    std::vector<float> a = RandomVector(53 * cols, rng), b = RandomVector(5 * cols, rng), c = RandomVector(130 * cols, rng);
    MatrixView ma{DType::kF32, 53, cols, a.data()}, mb{DType::kF32, 5, cols, b.data()},
        mc{DType::kF32, 130, cols, c.data()};
    std::vector<float> x = RandomVector(cols, rng);
    std::vector<float> ya(53), yb(5), yc(130);
    MatVecMany({{&ma, x.data(), ya.data()}, {&mb, x.data(), yb.data()}, {&mc, x.data(), yc.data()}});
    auto check = [&](const std::vector<float>& w, const std::vector<float>& y) {
      for (size_t r = 0; r < y.size(); ++r) {
        auto [ref, mag] = ReferenceDot(w.data() + r * cols, x.data(), cols);
        EXPECT_NEAR(y[r], ref, 1e-6 * mag + 1e-6) << "threads=" << threads << " row " << r;
      }
    };
    check(a, ya);
    check(b, yb);
    check(c, yc);
  }
  SetNumThreads(0);
}

// Matrices big enough that MatVecMany and MatMul really split rows over the threads (their thresholds keep
// tiny matrices on one thread): every thread's share, including the job boundaries, lands in the right rows.
TEST(MatVecMany, LargeMatricesSplitOverThreadsMatchReference) {
  std::mt19937 rng(17);
  const int64_t cols = 700;
  const std::vector<int64_t> row_counts = {333, 250, 517};
  std::vector<std::vector<float>> w;
  std::vector<MatrixView> m;
  for (int64_t rows : row_counts) w.push_back(RandomVector(static_cast<size_t>(rows * cols), rng));
  for (size_t i = 0; i < w.size(); ++i) m.push_back(MatrixView{DType::kF32, row_counts[i], cols, w[i].data()});
  const std::vector<float> x = RandomVector(cols, rng);
  for (int threads : {1, 2, 3}) {
    SetNumThreads(threads);
    std::vector<std::vector<float>> y;
    for (int64_t rows : row_counts) y.emplace_back(static_cast<size_t>(rows), -1.0f);
    MatVecMany({{&m[0], x.data(), y[0].data()}, {&m[1], x.data(), y[1].data()}, {&m[2], x.data(), y[2].data()}});
    for (size_t i = 0; i < m.size(); ++i) {
      for (int64_t r = 0; r < row_counts[i]; ++r) {
        auto [ref, mag] = ReferenceDot(w[i].data() + r * cols, x.data(), cols);
        ASSERT_NEAR(y[i][r], ref, 1e-6 * mag + 1e-6) << "threads=" << threads << " matrix " << i << " row " << r;
      }
    }
  }
  SetNumThreads(0);
}

// A job's finish sees every row exactly once, after the rows it covers were computed (each row holds its
// product then), on shares split over the threads, for every job of a call.
TEST(MatVecMany, FinishSeesEveryComputedRowOnce) {
  std::mt19937 rng(23);
  const int64_t cols = 700;
  const std::vector<int64_t> row_counts = {517, 250};  // big enough to split; not multiples of the row block
  std::vector<std::vector<float>> w;
  std::vector<MatrixView> m;
  for (int64_t rows : row_counts) w.push_back(RandomVector(static_cast<size_t>(rows * cols), rng));
  for (size_t i = 0; i < w.size(); ++i)
    m.push_back(MatrixView{DType::kF32, row_counts[i], cols, w[i].data()});
  const std::vector<float> x = RandomVector(cols, rng);
  std::vector<std::vector<float>> want;
  for (int64_t rows : row_counts) want.emplace_back(static_cast<size_t>(rows));
  SetNumThreads(1);
  MatVecMany({{&m[0], x.data(), want[0].data()}, {&m[1], x.data(), want[1].data()}});
  struct Seen {
    const float* y;
    std::vector<float> value;
    std::vector<int> count;
    static void Run(void* self, size_t begin, size_t end) {
      auto& s = *static_cast<Seen*>(self);
      for (size_t r = begin; r < end; ++r) {
        s.value[r] = s.y[r];
        ++s.count[r];  // each row is finished by one thread, so no two threads touch one r
      }
    }
  };
  for (int threads : {1, 2, 3}) {
    SetNumThreads(threads);
    std::vector<std::vector<float>> y;
    std::vector<Seen> seen;
    for (int64_t rows : row_counts) y.emplace_back(static_cast<size_t>(rows), -1.0f);
    for (size_t i = 0; i < m.size(); ++i) {
      seen.push_back({y[i].data(), std::vector<float>(y[i].size()), std::vector<int>(y[i].size())});
    }
    MatVecMany({{&m[0], x.data(), y[0].data(), {&Seen::Run, &seen[0]}},
                {&m[1], x.data(), y[1].data(), {&Seen::Run, &seen[1]}}});
    for (size_t i = 0; i < m.size(); ++i) {
      for (int64_t r = 0; r < row_counts[i]; ++r) {
        ASSERT_EQ(seen[i].count[r], 1) << "threads=" << threads << " matrix " << i << " row " << r;
        ASSERT_EQ(seen[i].value[r], want[i][r]) << "threads=" << threads << " matrix " << i << " row " << r;
        ASSERT_EQ(y[i][r], want[i][r]);
      }
    }
  }
  SetNumThreads(0);
}

TEST(MatMul, PrefillSplitOverThreadsMatchesReferenceForF32AndBf16) {
  std::mt19937 rng(19);
  const int64_t rows = 301, cols = 260;
  const size_t n = 40;
  std::vector<float> w = RandomVector(rows * cols, rng), x = RandomVector(n * cols, rng);
  // bf16 copy of the same matrix and the exact f32 values it holds (the panel path decodes them exactly).
  std::vector<uint16_t> w16(w.size());
  ConvertFromF32(DType::kBF16, w.data(), w.size(), w16.data());
  std::vector<float> w16_exact(w.size());
  ConvertToF32(DType::kBF16, w16.data(), w.size(), w16_exact.data());
  // With AVX-512 BF16, bf16 prefill multiplies the activation rounded to bf16 (ops/gemm_kernels.h).
  const bool rounds_x = ActiveSimdLevel() == SimdLevel::kAvx512 && CpuHasAvx512Bf16();
  std::vector<float> x16(x.size());
  for (size_t i = 0; i < x.size(); ++i) x16[i] = Bf16ToF32(F32ToBf16(x[i]));
  for (int threads : {1, 2, 3}) {
    SetNumThreads(threads);
    for (DType t : {DType::kF32, DType::kBF16}) {
      const bool f32 = t == DType::kF32;
      MatrixView m{t, rows, cols, f32 ? static_cast<const void*>(w.data()) : static_cast<const void*>(w16.data())};
      const std::vector<float>& exact = f32 ? w : w16_exact;
      std::vector<float> y(n * rows, -1.0f);
      MatMul(m, x.data(), n, y.data());
      for (size_t i = 0; i < n; ++i) {
        for (int64_t r = 0; r < rows; ++r) {
          const float* xi = (!f32 && rounds_x ? x16 : x).data() + i * cols;
          auto [ref, mag] = ReferenceDot(exact.data() + r * cols, xi, cols);
          ASSERT_NEAR(y[i * rows + r], ref, 1e-5 * mag + 1e-6)
              << DTypeName(t) << " threads=" << threads << " token " << i << " row " << r;
        }
      }
    }
  }
  SetNumThreads(0);
}

TEST(MatMul, BatchedProductMatchesReference) {
  std::mt19937 rng(3);
  const int64_t rows = 29, cols = 45;
  const size_t n = 6;
  std::vector<float> w = RandomVector(rows * cols, rng), x = RandomVector(n * cols, rng), y(n * rows);
  MatrixView m{DType::kF32, rows, cols, w.data()};
  MatMul(m, x.data(), n, y.data());
  for (size_t i = 0; i < n; ++i) {
    for (int64_t r = 0; r < rows; ++r) {
      auto [ref, mag] = ReferenceDot(w.data() + r * cols, x.data() + i * cols, cols);
      EXPECT_NEAR(y[i * rows + r], ref, 1e-6 * mag + 1e-6);
    }
  }
}

}  // namespace
}  // namespace kvlab
