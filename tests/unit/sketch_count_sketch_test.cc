// Count Sketch: unbiasedness and the ||x||_2 error bound measured over many seeds, the median, the norm
// estimate, linearity (Merge), decay, exact memory, determinism and constructor errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "kvlab/sketch/count_sketch.h"
#include "kvlab/util/error.h"
#include "sketch_test_streams.h"

namespace kvlab {
namespace {

using sketch_test::ZipfStream;
using sketch_test::ZipfWeights;

// Zipf magnitudes with seeded random signs: Count Sketch takes signed updates.
std::vector<double> SignedZipf(size_t n, uint64_t seed) {
  std::vector<double> w = ZipfWeights(n, 1.1, seed);
  SplitMix64 rng(seed + 1);
  for (double& x : w) x *= (rng.Next() & 1) ? 1.0 : -1.0;
  return w;
}

double SquaredNorm(const std::vector<double>& w) {
  double s = 0;
  for (double x : w) s += x * x;
  return s;
}

TEST(CountSketch, ConstructorNamesTheBadParameter) {
  auto message = [](size_t width, size_t depth) -> std::string {
    try {
      CountSketch cs(width, depth, 1);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_NE(message(0, 3).find("width"), std::string::npos) << message(0, 3);
  EXPECT_NE(message(16, 0).find("depth"), std::string::npos) << message(16, 0);
  EXPECT_NE(message(16, CountSketch::kMaxDepth + 1).find("depth"), std::string::npos);
  EXPECT_NO_THROW(CountSketch(1, CountSketch::kMaxDepth, 1));
}

TEST(CountSketch, ShapeFromErrorBounds) {
  // width = 9 / 0.1^2 = 900; depth: ln(20) / (0.5 ln(81/32)) = 6.45 -> 7 (odd).
  EXPECT_EQ(CountSketchShape(0.1, 0.05), (SketchShape{900, 7}));
  EXPECT_EQ(CountSketchShape(3.0, 0.5), (SketchShape{1, 3}));  // ln 2 / 0.464 = 1.49 -> 2 -> 3
  EXPECT_THROW(CountSketchShape(-1.0, 0.1), Error);
  EXPECT_THROW(CountSketchShape(0.1, 1.5), Error);
}

// One row is an unbiased estimator: over 300 seeds the mean error of every key sits within a few
// standard errors of 0, and its mean square matches the collision mass (||x||_2^2 - x_k^2) / width.
// The weights are all positive, like attention: only the random signs cancel the colliding mass, so
// constant or correlated signs show up as a bias of ~||x||_1 / width.
TEST(CountSketch, OneRowIsUnbiasedWithVarianceL2SquaredOverWidth) {
  const size_t n = 400, width = 32, seeds = 300;
  const std::vector<double> w = ZipfWeights(n, 1.1, 51);
  const double l2sq = SquaredNorm(w);
  const uint64_t probes[] = {0, 1, 7, 100, 250, 399};
  double sum_sq_err = 0, sum_expected = 0;
  for (uint64_t key : probes) {
    double sum = 0, sum_sq = 0;
    for (uint64_t seed = 0; seed < seeds; ++seed) {
      CountSketch cs(width, 1, seed);
      for (uint64_t k = 0; k < n; ++k) cs.Add(k, static_cast<float>(w[k]));
      const double err = cs.Estimate(key) - w[key];
      EXPECT_EQ(cs.Estimate(key), cs.RowEstimate(0, key));
      sum += err;
      sum_sq += err * err;
    }
    const double mean = sum / seeds;
    const double sd = std::sqrt(sum_sq / seeds - mean * mean);
    EXPECT_LT(std::abs(mean), 4.0 * sd / std::sqrt(static_cast<double>(seeds))) << "key " << key;
    sum_sq_err += sum_sq / seeds;
    sum_expected += (l2sq - w[key] * w[key]) / width;
  }
  EXPECT_NEAR(sum_sq_err / sum_expected, 1.0, 0.15);
}

// |error| <= 3 ||x||_2 / sqrt(width) fails in at most 1/9 of queries for one row (Chebyshev), and at
// most (32/81)^(depth/2) for the median of depth rows; measured over 200 seeds x all keys, on positive
// (attention-like) weights.
TEST(CountSketch, ErrorWithinThreeL2OverSqrtWidthWithExpectedProbability) {
  const size_t n = 1000, width = 64;
  const std::vector<double> w = ZipfWeights(n, 1.1, 61);
  const double bound = 3.0 * std::sqrt(SquaredNorm(w) / width);
  for (size_t depth : {1u, 5u}) {
    size_t queries = 0, failures = 0;
    double sum_err = 0;
    for (uint64_t seed = 0; seed < 200; ++seed) {
      CountSketch cs(width, depth, 7000 + seed);
      for (uint64_t k = 0; k < n; ++k) cs.Add(k, static_cast<float>(w[k]));
      for (uint64_t k = 0; k < n; ++k) {
        const double err = cs.Estimate(k) - w[k];
        failures += std::abs(err) > bound;
        sum_err += err;
        ++queries;
      }
    }
    const double allowed = depth == 1 ? 1.0 / 9.0 : std::pow(32.0 / 81.0, depth / 2.0);
    EXPECT_LE(static_cast<double>(failures) / queries, allowed) << "depth " << depth;
    EXPECT_LT(std::abs(sum_err / queries), 0.02 * bound) << "depth " << depth;  // the median stays centred
  }
}

TEST(CountSketch, EstimateIsTheMedianOfTheRowEstimates) {
  CountSketch cs(8, 5, 2);
  for (uint64_t k = 0; k < 80; ++k) cs.Add(k, static_cast<float>(k % 11) - 4.0f);
  for (uint64_t k = 0; k < 100; ++k) {
    const float est = cs.Estimate(k);
    int below = 0, above = 0;
    for (size_t r = 0; r < 5; ++r) {
      below += cs.RowEstimate(r, k) < est;
      above += cs.RowEstimate(r, k) > est;
    }
    EXPECT_LE(below, 2) << k;
    EXPECT_LE(above, 2) << k;
  }
}

TEST(CountSketch, EvenDepthMedianAveragesTheMiddleRows) {
  CountSketch cs(8, 2, 3);
  for (uint64_t k = 0; k < 50; ++k) cs.Add(k, static_cast<float>(k % 7) - 3.0f);
  for (uint64_t k = 0; k < 60; ++k) {
    EXPECT_FLOAT_EQ(cs.Estimate(k), (cs.RowEstimate(0, k) + cs.RowEstimate(1, k)) / 2) << k;
  }
}

TEST(CountSketch, SquaredNormEstimateTracksL2) {
  const std::vector<double> w = SignedZipf(3000, 71);
  CountSketch cs(512, 5, 4);
  for (uint64_t k = 0; k < w.size(); ++k) cs.Add(k, static_cast<float>(w[k]));
  EXPECT_NEAR(cs.SquaredNormEstimate() / SquaredNorm(w), 1.0, 0.25);
  EXPECT_NEAR(cs.ErrorBound(), 3.0 * std::sqrt(cs.SquaredNormEstimate() / 512), 1e-9);
}

TEST(CountSketch, MergeEqualsSketchOfConcatenatedStream) {
  const std::vector<uint64_t> a = ZipfStream(300, 1.1, 2000, 81);
  const std::vector<uint64_t> b = ZipfStream(300, 0.7, 1500, 82);
  CountSketch sa(40, 5, 7), sb(40, 5, 7), both(40, 5, 7);
  for (uint64_t k : a) {
    sa.Add(k, 1.0f);
    both.Add(k, 1.0f);
  }
  for (uint64_t k : b) {
    sb.Add(k, -3.0f);  // signed integers: exact in float, so equality is exact
    both.Add(k, -3.0f);
  }
  sa.Merge(sb);
  for (size_t r = 0; r < 5; ++r) {
    for (size_t c = 0; c < 40; ++c) ASSERT_EQ(sa.Counter(r, c), both.Counter(r, c));
  }
  EXPECT_THROW(sa.Merge(CountSketch(40, 5, 8)), Error);
  EXPECT_THROW(sa.Merge(CountSketch(40, 4, 7)), Error);
}

TEST(CountSketch, DecayScalesEveryEstimate) {
  CountSketch cs(64, 3, 5);
  for (uint64_t k = 0; k < 100; ++k) cs.Add(k, static_cast<float>(k));
  std::vector<float> before(100);
  for (uint64_t k = 0; k < 100; ++k) before[k] = cs.Estimate(k);
  for (int t = 0; t < 200; ++t) cs.Decay(0.8);  // 0.8^200 = 4e-20: several renormalizations
  const double f = std::pow(0.8, 200);
  for (uint64_t k = 0; k < 100; ++k) EXPECT_NEAR(cs.Estimate(k), before[k] * f, 1e-5 * 100 * f) << k;
  cs.Decay(0.0);
  for (uint64_t k = 0; k < 100; ++k) EXPECT_EQ(cs.Estimate(k), 0.0f);
}

TEST(CountSketch, DeterministicCopiesClearAndBytes) {
  CountSketch cs(50, 3, 9), same(50, 3, 9), other(50, 3, 10);
  EXPECT_EQ(cs.CounterBytes(), 50u * 3u * sizeof(float));
  EXPECT_EQ(cs.Bytes(), 50u * 3u * sizeof(float) + 2u * 3u * sizeof(PairwiseHash));
  const std::vector<uint64_t> stream = ZipfStream(100, 1.0, 600, 91);
  for (uint64_t k : stream) {
    cs.Add(k, 0.5f);
    same.Add(k, 0.5f);
    other.Add(k, 0.5f);
  }
  const CountSketch copy = cs;
  int differ = 0;
  for (size_t r = 0; r < 3; ++r) {
    for (size_t c = 0; c < 50; ++c) {
      ASSERT_EQ(same.Counter(r, c), cs.Counter(r, c));
      ASSERT_EQ(copy.Counter(r, c), cs.Counter(r, c));
      differ += other.Counter(r, c) != cs.Counter(r, c);
    }
  }
  EXPECT_GT(differ, 50);
  cs.Clear();
  for (uint64_t k = 0; k < 100; ++k) EXPECT_EQ(cs.Estimate(k), 0.0f);
  EXPECT_EQ(copy.Estimate(stream[0]), same.Estimate(stream[0]));
  std::vector<uint64_t> keys = {1, 2, 3};
  std::vector<float> out(3);
  same.EstimateBatch(keys, out);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(out[i], same.Estimate(keys[i]));
}

}  // namespace
}  // namespace kvlab

namespace kvlab {
namespace {

// Depths that fill AddBatch's passes of four rows exactly (4, 8) or leave a remainder (1, 3, 5).
TEST(CountSketch, AddBatchIsBitIdenticalToAddingOneByOne) {
  for (size_t depth : {size_t{1}, size_t{3}, size_t{4}, size_t{5}, size_t{8}}) {
    CountSketch one(61, depth, 3), batch(61, depth, 3);
    one.Decay(2.5);
    batch.Decay(2.5);
    std::vector<uint64_t> keys;
    std::vector<float> weights;
    for (int i = 0; i < 600; ++i) {
      keys.push_back(static_cast<uint64_t>((i * 104729) % 211));
      weights.push_back(0.01f * static_cast<float>(i % 13) - 0.05f);
    }
    for (size_t i = 0; i < keys.size(); ++i) one.Add(keys[i], weights[i]);
    batch.AddBatch(keys, weights);
    for (uint64_t k = 0; k < 211; ++k)
      ASSERT_EQ(one.Estimate(k), batch.Estimate(k)) << "depth " << depth << " key " << k;
  }
}

}  // namespace
}  // namespace kvlab

namespace kvlab {
namespace {

// EstimateBatch sorts each key's row values with a network instead of nth_element: the medians must be
// exactly Estimate's, for odd and even depths and for more keys than one internal block.
TEST(CountSketch, EstimateBatchEqualsEstimateForEveryDepth) {
  for (size_t depth :
       {size_t{1}, size_t{2}, size_t{3}, size_t{4}, size_t{5}, size_t{8}, size_t{9}, size_t{64}}) {
    CountSketch cs(37, depth, depth);
    cs.Decay(0.5);
    std::vector<uint64_t> keys;
    std::vector<float> weights;
    for (int i = 0; i < 500; ++i) {
      keys.push_back(static_cast<uint64_t>((i * 7919) % 403) + (static_cast<uint64_t>(i % 3) << 40));
      weights.push_back(0.013f * static_cast<float>(i % 17) - 0.1f);
    }
    cs.AddBatch(keys, weights);
    std::vector<float> out(keys.size());
    cs.EstimateBatch(keys, out);
    for (size_t i = 0; i < keys.size(); ++i)
      ASSERT_EQ(out[i], cs.Estimate(keys[i])) << "depth " << depth << " key " << i;
  }
}

}  // namespace
}  // namespace kvlab
