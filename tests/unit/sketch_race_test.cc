// RACE sketch: SimHash collision rate against 1 - theta/pi, Query against the exact kernel-weighted sum
// (with exact and with folded buckets), bucket properties, linearity (Merge), decay, exact memory,
// determinism and constructor errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <random>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "kvlab/sketch/race.h"
#include "kvlab/util/error.h"

namespace kvlab {
namespace {

using Vec = std::vector<float>;

Vec RandomVec(size_t dim, SplitMix64& rng) {
  Vec v(dim);
  for (float& x : v) x = static_cast<float>(rng.NextGaussian());
  return v;
}

// Angle between a and b, computed in double independently of the library.
double Angle(const Vec& a, const Vec& b) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ab += static_cast<double>(a[i]) * b[i];
    aa += static_cast<double>(a[i]) * a[i];
    bb += static_cast<double>(b[i]) * b[i];
  }
  return std::acos(std::clamp(ab / std::sqrt(aa * bb), -1.0, 1.0));
}

// Data with structure: three clusters (noisy copies of three centres) of different weights.
struct Data {
  std::vector<Vec> points;
  std::vector<float> weights;
  std::vector<Vec> centres;
};

Data ClusteredData(size_t dim, uint64_t seed) {
  SplitMix64 rng(seed);
  Data d;
  for (int c = 0; c < 3; ++c) d.centres.push_back(RandomVec(dim, rng));
  for (int i = 0; i < 40; ++i) {
    const Vec& centre = d.centres[i % 3];
    Vec noise = RandomVec(dim, rng);
    Vec p(dim);
    for (size_t j = 0; j < dim; ++j) p[j] = centre[j] + 0.4f * noise[j];
    d.points.push_back(p);
    d.weights.push_back(static_cast<float>(0.5 + 1.5 * rng.NextUnit()));
  }
  return d;
}

// sum_i w_i * Pr[q and x_i share a bucket in one row]: (1 - theta/pi)^bits for the same code, plus
// 1/width of the rest when codes are folded.
double ExpectedQuery(const Data& d, const Vec& q, int bits, double fold_collision) {
  double s = 0;
  for (size_t i = 0; i < d.points.size(); ++i) {
    const double k = std::pow(1.0 - Angle(d.points[i], q) / std::numbers::pi, bits);
    s += d.weights[i] * (k + (1.0 - k) * fold_collision);
  }
  return s;
}

TEST(RaceSketch, ConstructorNamesTheBadParameter) {
  auto message = [](size_t width, size_t depth, size_t dim, int bits) -> std::string {
    try {
      RaceSketch race(width, depth, dim, bits, 1);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_NE(message(0, 2, 8, 4).find("width"), std::string::npos);
  EXPECT_NE(message(16, 0, 8, 4).find("depth"), std::string::npos);
  EXPECT_NE(message(16, 2, 0, 4).find("dim"), std::string::npos);
  EXPECT_NE(message(16, 2, 8, 0).find("bits"), std::string::npos);
  EXPECT_NE(message(16, 2, 8, 33).find("bits"), std::string::npos);
  EXPECT_EQ(message(16, 2, 8, 32), "");
}

// b at exactly `angle` from a: cos(angle) * a/|a| + sin(angle) * (unit vector of r orthogonal to a).
Vec AtAngle(const Vec& a, Vec r, double angle) {
  double aa = 0, ar = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    aa += static_cast<double>(a[i]) * a[i];
    ar += static_cast<double>(a[i]) * r[i];
  }
  for (size_t i = 0; i < a.size(); ++i) r[i] -= static_cast<float>(ar / aa) * a[i];
  double rr = 0;
  for (float x : r) rr += static_cast<double>(x) * x;
  Vec b(a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    b[i] =
        static_cast<float>(std::cos(angle) * a[i] / std::sqrt(aa) + std::sin(angle) * r[i] / std::sqrt(rr));
  }
  return b;
}

TEST(RaceSketch, SignCodeBitsCollideAtOneMinusThetaOverPi) {
  // One hyperplane per row, 20000 rows: the fraction of rows where two vectors agree estimates
  // 1 - theta/pi (sd <= 0.0035). Random pairs, and axis-aligned pairs: RoPE'd keys have structured
  // coordinates, and only rotation-invariant (Gaussian) hyperplanes give the same rate along the axes
  // (hyperplanes uniform in a cube are off by up to 0.023 there, e.g. at theta = 0.5).
  const size_t dim = 16, rows = 20000;
  RaceSketch race(2, rows, dim, 1, 17);
  SplitMix64 rng(18);
  Vec e0(dim, 0.0f), e1(dim, 0.0f);
  e0[0] = 1.0f;
  e1[1] = 1.0f;
  for (double target : {0.5, 1.0, 2.0, 2.9}) {
    for (bool axes : {false, true}) {
      const Vec a = axes ? e0 : RandomVec(dim, rng);
      const Vec b = AtAngle(a, axes ? e1 : RandomVec(dim, rng), target);
      ASSERT_NEAR(Angle(a, b), target, 1e-4);
      size_t same = 0;
      for (size_t row = 0; row < rows; ++row) same += race.SignCode(row, a) == race.SignCode(row, b);
      EXPECT_NEAR(static_cast<double>(same) / rows, 1.0 - target / std::numbers::pi, 0.012)
          << "theta " << target << (axes ? " along the axes" : "");
    }
    EXPECT_NEAR(SrpCollisionProbability(std::cos(target), 3), std::pow(1.0 - target / std::numbers::pi, 3),
                1e-9);
  }
}

// When 64 codes fold into 16 buckets, two different codes must share a bucket at rate ~1/16 whatever
// bits they differ in. Near vectors differ in one or two hyperplanes: folding by a fixed subset of bits
// (e.g. code % width) would collide them far more often.
TEST(RaceSketch, FoldedBucketsOfDifferentCodesCollideAtOneOverWidth) {
  const size_t dim = 16, rows = 4000, width = 16;
  RaceSketch race(width, rows, dim, 6, 19);
  SplitMix64 rng(20);
  size_t differ = 0, shared = 0;
  for (int pair = 0; pair < 5; ++pair) {
    const Vec a = RandomVec(dim, rng);
    const Vec b = AtAngle(a, RandomVec(dim, rng), pair < 3 ? 0.4 : 1.5);
    for (size_t row = 0; row < rows; ++row) {
      if (race.SignCode(row, a) == race.SignCode(row, b)) continue;
      ++differ;
      shared += race.Bucket(row, a) == race.Bucket(row, b);
    }
  }
  ASSERT_GT(differ, 8000u);
  EXPECT_NEAR(static_cast<double>(shared) / differ, 1.0 / width, 0.01);  // sd 0.0027
}

TEST(RaceSketch, QueryApproximatesKernelSumWithExactBuckets) {
  const size_t dim = 16;
  const int bits = 3;
  RaceSketch race(8, 3000, dim, bits, 23);  // 2^3 = 8 codes = width: a bucket is a code
  ASSERT_TRUE(race.exact_buckets());
  const Data d = ClusteredData(dim, 24);
  double total = 0;
  for (size_t i = 0; i < d.points.size(); ++i) {
    race.Add(d.points[i], d.weights[i]);
    total += d.weights[i];
  }
  SplitMix64 rng(25);
  std::vector<Vec> queries = d.centres;
  for (int i = 0; i < 5; ++i) queries.push_back(RandomVec(dim, rng));
  for (const Vec& q : queries) {
    const double expected = ExpectedQuery(d, q, bits, 0.0);
    // Each row's counter lies in [0, total], so its sd is at most total / 2; averaged over 3000 rows:
    // <= 0.0091 * total. 0.035 * total is 3.8 sd.
    EXPECT_NEAR(race.Query(q), expected, 0.035 * total) << "expected " << expected;
  }
  // The centres of heavy clusters must score well above an unrelated direction: the kernel is local.
  EXPECT_GT(ExpectedQuery(d, d.centres[0], bits, 0.0), 2.0 * ExpectedQuery(d, queries.back(), bits, 0.0));
}

TEST(RaceSketch, QueryApproximatesKernelSumWithFoldedBuckets) {
  const size_t dim = 16, width = 16;
  const int bits = 6;  // 64 codes folded into 16 buckets
  RaceSketch race(width, 3000, dim, bits, 33);
  ASSERT_FALSE(race.exact_buckets());
  const Data d = ClusteredData(dim, 34);
  double total = 0;
  for (size_t i = 0; i < d.points.size(); ++i) {
    race.Add(d.points[i], d.weights[i]);
    total += d.weights[i];
  }
  for (const Vec& q : d.centres) {
    EXPECT_NEAR(race.Query(q), ExpectedQuery(d, q, bits, 1.0 / width), 0.035 * total);
  }
}

TEST(RaceSketch, BucketsAreInRangeScaleInvariantAndConsistent) {
  const size_t dim = 12;
  RaceSketch race(10, 6, dim, 5, 41);  // 32 codes into 10 buckets
  SplitMix64 rng(42);
  std::vector<uint32_t> buckets(6), scaled(6);
  for (int t = 0; t < 50; ++t) {
    Vec v = RandomVec(dim, rng), w = v, neg = v;
    for (size_t i = 0; i < dim; ++i) {
      w[i] *= 3.5f;
      neg[i] = -v[i];
    }
    race.Buckets(v, buckets);
    race.Buckets(w, scaled);
    EXPECT_EQ(buckets, scaled);  // SimHash sees only the direction
    for (size_t r = 0; r < 6; ++r) {
      EXPECT_LT(buckets[r], 10u);
      EXPECT_EQ(buckets[r], race.Bucket(r, v));
      EXPECT_EQ(race.SignCode(r, neg), ~race.SignCode(r, v) & 31u);  // every hyperplane flips side
    }
  }
}

TEST(RaceSketch, AddAtBucketsAndQueryAtBucketsMatchTheVectorForms) {
  const size_t dim = 8;
  RaceSketch a(16, 4, dim, 4, 51), b(16, 4, dim, 4, 51);
  SplitMix64 rng(52);
  std::vector<uint32_t> buckets(4);
  for (int t = 0; t < 30; ++t) {
    const Vec v = RandomVec(dim, rng);
    a.Add(v, 0.25f * t);
    b.Buckets(v, buckets);
    b.AddAtBuckets(buckets, 0.25f * t);
    EXPECT_EQ(b.QueryAtBuckets(buckets), b.Query(v));
  }
  for (size_t r = 0; r < 4; ++r) {
    for (size_t c = 0; c < 16; ++c) ASSERT_EQ(a.Counter(r, c), b.Counter(r, c));
  }
}

TEST(RaceSketch, MergeDecayDeterminismAndBytes) {
  const size_t dim = 8;
  RaceSketch a(32, 3, dim, 4, 61), b(32, 3, dim, 4, 61), both(32, 3, dim, 4, 61), other(32, 3, dim, 4, 62);
  SplitMix64 rng(63);
  std::vector<Vec> vs;
  for (int t = 0; t < 40; ++t) vs.push_back(RandomVec(dim, rng));
  for (int t = 0; t < 40; ++t) {
    (t < 20 ? a : b).Add(vs[t], static_cast<float>(t % 5));  // integer weights: exact sums
    both.Add(vs[t], static_cast<float>(t % 5));
  }
  a.Merge(b);
  for (size_t r = 0; r < 3; ++r) {
    for (size_t c = 0; c < 32; ++c) ASSERT_EQ(a.Counter(r, c), both.Counter(r, c));
  }
  EXPECT_THROW(a.Merge(other), Error);  // other seed: other hyperplanes
  EXPECT_THROW(a.Merge(RaceSketch(32, 3, dim, 5, 61)), Error);
  EXPECT_THROW(a.Merge(RaceSketch(32, 3, dim + 1, 4, 61)), Error);

  // Same seed, same hyperplanes; another seed, other buckets somewhere.
  const RaceSketch twin(32, 3, dim, 4, 61);
  int differ = 0;
  for (const Vec& v : vs) {
    for (size_t r = 0; r < 3; ++r) {
      EXPECT_EQ(twin.SignCode(r, v), both.SignCode(r, v));
      differ += other.SignCode(r, v) != both.SignCode(r, v);
    }
  }
  EXPECT_GT(differ, 60);

  const float before = both.Query(vs[0]);
  both.Decay(0.25);
  EXPECT_FLOAT_EQ(both.Query(vs[0]), before * 0.25f);
  both.Clear();
  EXPECT_EQ(both.Query(vs[0]), 0.0f);

  EXPECT_EQ(both.CounterBytes(), 32u * 3u * sizeof(float));
  EXPECT_EQ(both.Bytes(), 32u * 3u * sizeof(float) + 3u * 4u * dim * sizeof(float));  // 16 codes fit: no fold
  const RaceSketch folded(8, 3, dim, 4, 1);
  EXPECT_EQ(folded.Bytes(),
            8u * 3u * sizeof(float) + 3u * 4u * dim * sizeof(float) + 3u * sizeof(PairwiseHash));
}

// The AVX-512 projection loop gives the scalar loop's bits (a rounded product, then an add) for any
// number of planes (several passes of 64, masked tails) and of input vectors (passes of four), so signs and
// buckets do not depend on the CPU nor on how many vectors are hashed together.
TEST(RaceSketch, Avx512ProjectionGivesTheScalarBits) {
  if (!SketchCpuHasAvx512()) GTEST_SKIP() << "no AVX-512 on this CPU";
  std::mt19937 rng(12);
  std::normal_distribution<float> normal;
  for (size_t dim : {1u, 5u, 64u, 128u}) {
    for (size_t count : {1u, 9u, 16u, 36u, 64u, 65u, 200u}) {
      for (size_t inputs : {1u, 3u, 4u, 6u}) {
        const size_t planes = count + 3;  // columns wider than the planes wanted
        std::vector<float> columns(dim * planes), v(inputs * dim);
        for (float& x : columns) x = normal(rng);
        for (float& x : v) x = normal(rng);
        std::vector<const float*> vs(inputs);
        for (size_t j = 0; j < inputs; ++j) vs[j] = v.data() + j * dim;
        std::vector<float> expected(inputs * count, 0.0f), dots(inputs * count + 1, -9.0f);
        for (size_t j = 0; j < inputs; ++j) {
          for (size_t i = 0; i < dim; ++i) {
            for (size_t p = 0; p < count; ++p) {
              const float product = columns[i * planes + p] * vs[j][i];
              expected[j * count + p] = expected[j * count + p] + product;
            }
          }
        }
        ProjectAvx512(columns.data(), planes, count, vs.data(), inputs, dim, dots.data());
        for (size_t k = 0; k < inputs * count; ++k) {
          ASSERT_EQ(dots[k], expected[k]) << "dim " << dim << " count " << count << " inputs " << inputs << " k " << k;
        }
        ASSERT_EQ(dots[inputs * count], -9.0f);  // nothing written past the end
      }
    }
  }
}

// Hashing many vectors at once gives each vector's own buckets, folded or not, for any count (passes of
// four vectors) and a depth beyond one pass of rows.
TEST(RaceSketch, BucketsOfManyMatchBucketsOneAtATime) {
  std::mt19937 rng(13);
  std::normal_distribution<float> normal;
  const size_t dim = 24;
  for (const auto& [width, depth, bits] : {std::tuple<size_t, size_t, int>{512, 4, 9}, {64, 11, 9}, {16, 3, 4}}) {
    const RaceSketch race(width, depth, dim, bits, 5);
    for (size_t n : {0u, 1u, 4u, 7u}) {
      std::vector<float> v(n * dim);
      for (float& x : v) x = normal(rng);
      std::vector<const float*> vs(n);
      for (size_t j = 0; j < n; ++j) vs[j] = v.data() + j * dim;
      std::vector<uint32_t> many(n * depth, 0xdeadbeef), one(depth);
      race.BucketsOfMany(vs, many);
      for (size_t j = 0; j < n; ++j) {
        race.Buckets({vs[j], dim}, one);
        for (size_t r = 0; r < depth; ++r) {
          ASSERT_EQ(many[j * depth + r], one[r]) << "width " << width << " vector " << j << " row " << r;
        }
      }
    }
  }
}

}  // namespace
}  // namespace kvlab
