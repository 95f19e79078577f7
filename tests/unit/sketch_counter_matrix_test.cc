// CounterMatrix::ToStoredBatch: its AVX-512 loop gives the scalar loop's bits (stored units and partial
// sums), and rejects what the scalar loop rejects. CounterMatrix::ScatterAdd: the sums of one add at a time.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "kvlab/sketch/counter_matrix.h"
#include "kvlab/sketch/hashing.h"

namespace kvlab {
namespace {

// The scalar loop of ToStoredBatch, written out: stored[i] = float(double(w) * inv_scale), sums[i % 4] += w.
bool ScalarToStored(const std::vector<float>& w, float floor, double inv_scale, std::vector<float>& stored,
                    double (&sums)[4]) {
  bool valid = true;
  for (size_t i = 0; i < w.size(); ++i) {
    valid &= (w[i] >= floor) & (w[i] <= std::numeric_limits<float>::max());
    sums[i % 4] += w[i];
    stored[i] = static_cast<float>(static_cast<double>(w[i]) * inv_scale);
  }
  return valid;
}

TEST(CounterMatrix, ToStoredBatchAvx512GivesTheScalarBits) {
  if (!SketchCpuHasAvx512()) GTEST_SKIP() << "no AVX-512 on this CPU";
  std::mt19937 rng(8);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (size_t n = 0; n <= 70; ++n) {
    for (double inv_scale : {1.0, 1.0 / 0.37, 0x1.0p31 / 3.0}) {
      std::vector<float> w(n);
      for (float& x : w) x = u(rng) * 1e-3f;
      std::vector<float> stored(n + 1, -7.0f), expected(n);
      double sums[4] = {0.5, 0, 0, 0}, expected_sums[4] = {0.5, 0, 0, 0};
      const float floor = -std::numeric_limits<float>::max();
      ASSERT_TRUE(ToStoredBatchAvx512(w.data(), n, floor, inv_scale, stored.data(), sums));
      ASSERT_TRUE(ScalarToStored(w, floor, inv_scale, expected, expected_sums));
      for (size_t i = 0; i < n; ++i) ASSERT_EQ(stored[i], expected[i]) << "n=" << n << " i=" << i;
      ASSERT_EQ(stored[n], -7.0f);  // nothing written past the end
      for (int j = 0; j < 4; ++j) ASSERT_EQ(sums[j], expected_sums[j]) << "n=" << n << " lane " << j;
    }
  }
}

TEST(CounterMatrix, ToStoredBatchAvx512RejectsWhatTheScalarLoopRejects) {
  if (!SketchCpuHasAvx512()) GTEST_SKIP() << "no AVX-512 on this CPU";
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  for (float bad : {nan, inf, -inf, -0.5f}) {
    for (size_t where : {0u, 15u, 16u, 20u}) {
      std::vector<float> w(21, 0.25f), stored(21);
      w[where] = bad;
      double sums[4] = {0, 0, 0, 0};
      EXPECT_FALSE(ToStoredBatchAvx512(w.data(), w.size(), 0.0f, 1.0, stored.data(), sums))
          << bad << " at " << where;
    }
  }
  std::vector<float> w(21, -0.25f), stored(21);
  double sums[4] = {0, 0, 0, 0};
  EXPECT_TRUE(
      ToStoredBatchAvx512(w.data(), w.size(), -std::numeric_limits<float>::max(), 1.0, stored.data(), sums));
}

// Through the public entry point, after a decay (a common scale != 1): the real-unit sum and the stored
// units.
TEST(CounterMatrix, ToStoredBatchReturnsTheSumAndStoredUnits) {
  CounterMatrix m(SketchShape{8, 2});
  m.Scale(0.5);
  std::vector<float> w = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f}, stored(5);
  const double sum = m.ToStoredBatch(w.data(), w.size(), /*nonnegative=*/true, stored.data());
  EXPECT_DOUBLE_EQ(sum, (double{0.1f} + double{0.5f}) + double{0.2f} + (double{0.3f} + double{0.4f}));
  for (size_t i = 0; i < w.size(); ++i) EXPECT_EQ(stored[i], m.ToStored(w[i]));
}

// ScatterAdd's keys-outer loop must give every counter the bits of adding one key at a time, row by row, in
// order of the keys: for 1 to 4 rows, rows starting past row 0, one value array shared by every row and one
// per row, and buckets that repeat (so a counter takes several adds within one pass).
TEST(CounterMatrix, ScatterAddEqualsOneAddAtATime) {
  std::mt19937 rng(21);
  constexpr size_t kWidth = 13, kDepth = 6, kKeys = 101;
  std::uniform_int_distribution<uint32_t> bucket(0, kWidth - 1);
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  for (bool shared : {true, false}) {
    for (size_t first : {size_t{0}, size_t{2}}) {
      for (size_t count = 1; count <= CounterMatrix::kScatterRows; ++count) {
        std::vector<std::vector<uint32_t>> buckets(count, std::vector<uint32_t>(kKeys));
        std::vector<std::vector<float>> values(count, std::vector<float>(kKeys));
        for (size_t j = 0; j < count; ++j) {
          for (size_t i = 0; i < kKeys; ++i) {
            buckets[j][i] = bucket(rng);
            values[j][i] = value(rng) * (i % 7 == 0 ? 1e-6f : 1.0f);  // small and large magnitudes
          }
        }
        const uint32_t* bucket_rows[CounterMatrix::kScatterRows];
        const float* value_rows[CounterMatrix::kScatterRows];
        for (size_t j = 0; j < count; ++j) {
          bucket_rows[j] = buckets[j].data();
          value_rows[j] = shared ? values[0].data() : values[j].data();
        }
        CounterMatrix batch(SketchShape{kWidth, kDepth}), one(SketchShape{kWidth, kDepth});
        batch.ScatterAdd(first, count, bucket_rows, value_rows, kKeys);
        for (size_t j = 0; j < count; ++j) {
          for (size_t i = 0; i < kKeys; ++i)
            one.MutableStored(first + j, bucket_rows[j][i]) += value_rows[j][i];
        }
        for (size_t r = 0; r < kDepth; ++r) {
          for (size_t c = 0; c < kWidth; ++c) {
            ASSERT_EQ(batch.Stored(r, c), one.Stored(r, c))
                << "shared " << shared << " first " << first << " count " << count << " cell " << r << ","
                << c;
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace kvlab
