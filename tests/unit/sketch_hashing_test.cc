// Hash families of the sketch library: determinism per seed, avalanche of the mixer, and the pairwise
// independence (collision rate, joint signs) that the Count-Min / Count Sketch bounds rely on.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <vector>

#include "kvlab/sketch/hashing.h"

namespace kvlab {
namespace {

TEST(SketchHashing, SplitMix64MatchesReferenceSequence) {
  // First outputs of the reference splitmix64 (Vigna) from state 0: pins the generator on every platform.
  SplitMix64 rng(0);
  EXPECT_EQ(rng.Next(), 0xe220a8397b1dcdafULL);
  EXPECT_EQ(rng.Next(), 0x6e789e6aa1b965f4ULL);
  EXPECT_EQ(rng.Next(), 0x06c45d188009454fULL);
}

TEST(SketchHashing, PairwiseHashIsDeterministicPerSeed) {
  SplitMix64 a(42), b(42), c(43);
  const PairwiseHash ha(a), hb(b), hc(c);
  EXPECT_EQ(ha, hb);
  int differ = 0;
  for (uint64_t key = 0; key < 1000; ++key) {
    EXPECT_EQ(ha(key), hb(key));
    differ += ha(key) != hc(key);
  }
  EXPECT_GT(differ, 990);  // another seed is another function
  EXPECT_EQ(SeededHash64(7, 1), SeededHash64(7, 1));
  EXPECT_NE(SeededHash64(7, 1), SeededHash64(7, 2));
}

TEST(SketchHashing, Mix64AvalanchesEveryInputBit) {
  // Flipping any one input bit should flip each output bit with probability ~1/2.
  SplitMix64 rng(1);
  std::vector<int> flips(64 * 64, 0);  // [input bit][output bit]
  const int trials = 400;
  for (int t = 0; t < trials; ++t) {
    const uint64_t x = rng.Next();
    const uint64_t hx = SeededHash64(x, 9);
    for (int i = 0; i < 64; ++i) {
      const uint64_t diff = hx ^ SeededHash64(x ^ (uint64_t{1} << i), 9);
      for (int o = 0; o < 64; ++o) flips[i * 64 + o] += (diff >> o) & 1;
    }
  }
  for (int k = 0; k < 64 * 64; ++k) {
    const double p = static_cast<double>(flips[k]) / trials;
    ASSERT_NEAR(p, 0.5, 0.13) << "input bit " << k / 64 << " output bit " << k % 64;  // 5.2 sigma
  }
}

TEST(SketchHashing, FastRangeStaysInRange) {
  for (uint32_t n : {1u, 2u, 3u, 7u, 1000u, 0xffffffffu}) {
    EXPECT_LT(FastRange32(0, n), n);
    EXPECT_LT(FastRange32(0xffffffffu, n), n);
    EXPECT_EQ(FastRange32(0xffffffffu, n), n - 1);
  }
}

// For fixed distinct keys x, y and a random function: Pr[bucket(x) == bucket(y)] ~ 1/n and the sign
// pair (s(x), s(y)) uniform on {-1, +1}^2. Keys include neighbours (positions) and keys that differ only
// in the high 32 bits, which a hash of the low half alone would collide on.
TEST(SketchHashing, PairwiseHashCollidesAtRateOneOverN) {
  const uint64_t pairs[][2] = {{0, 1}, {123, 124}, {5, 5 + (uint64_t{1} << 32)}, {0, ~uint64_t{0}}};
  const int draws = 20000;
  const uint32_t n = 16;
  for (const auto& pr : pairs) {
    int collide = 0;
    int sign_pairs[4] = {0, 0, 0, 0};
    SplitMix64 rng(pr[0] * 31 + pr[1]);
    for (int t = 0; t < draws; ++t) {
      const PairwiseHash h(rng);
      collide += h.Bucket(pr[0], n) == h.Bucket(pr[1], n);
      sign_pairs[(h.Sign(pr[0]) > 0) * 2 + (h.Sign(pr[1]) > 0)]++;
    }
    // sd of the rate: sqrt(p (1 - p) / draws) = 0.0017 for p = 1/16, and 0.0031 for p = 1/4.
    EXPECT_NEAR(static_cast<double>(collide) / draws, 1.0 / n, 0.01) << pr[0] << "," << pr[1];
    for (int s = 0; s < 4; ++s) {
      EXPECT_NEAR(static_cast<double>(sign_pairs[s]) / draws, 0.25, 0.016) << pr[0] << "," << pr[1];
    }
  }
}

TEST(SketchHashing, BucketsOfSequentialPositionsAreUniform) {
  // Token positions arrive as 0, 1, 2, ...: the bucket histogram must stay flat (chi-square, 63 dof).
  const uint32_t n = 64;
  const int keys = 64000;
  for (uint64_t seed : {1ull, 2ull, 3ull}) {
    SplitMix64 rng(seed);
    const PairwiseHash h(rng);
    std::vector<int> hist(n, 0);
    for (int k = 0; k < keys; ++k) hist[h.Bucket(static_cast<uint64_t>(k), n)]++;
    const double expected = static_cast<double>(keys) / n;
    double chi2 = 0;
    for (int c : hist) chi2 += (c - expected) * (c - expected) / expected;
    EXPECT_LT(chi2, 130.0) << "seed " << seed;  // mean 63, sd 11.2
  }
}

TEST(SketchHashing, GaussianDrawsHaveUnitMoments) {
  SplitMix64 rng(5);
  const int n = 100000;
  double sum = 0, sq = 0;
  for (int i = 0; i < n; ++i) {
    const double g = rng.NextGaussian();
    ASSERT_TRUE(std::isfinite(g));
    sum += g;
    sq += g * g;
  }
  EXPECT_NEAR(sum / n, 0.0, 0.02);  // sd of the mean 0.0032
  EXPECT_NEAR(sq / n, 1.0, 0.03);   // sd of the second moment 0.0045
}

// Token positions (keys below 2^32) take a shorter path in blocks of 8 whose keys all fit 32 bits: blocks of
// positions, and blocks where one key is wider, must all give the scalar buckets.
TEST(PairwiseHash, BatchBucketsOfPositionsEqualScalarBuckets) {
  SplitMix64 rng(7);
  const PairwiseHash h(rng);
  std::vector<uint64_t> keys;
  for (uint64_t i = 0; i < 300; ++i) keys.push_back(i < 4 ? i : 1000 + 3 * i);
  keys[21] = uint64_t{1} << 32;  // one wide key in the third block
  keys[290] = ~uint64_t{0};
  for (uint32_t n : {1u, 512u, 4096u}) {
    std::vector<uint32_t> out(keys.size());
    h.Buckets(keys.data(), keys.size(), n, out.data());
    for (size_t i = 0; i < keys.size(); ++i)
      ASSERT_EQ(out[i], h.Bucket(keys[i], n)) << "n=" << n << " i=" << i;
  }
}

}  // namespace
}  // namespace kvlab

namespace kvlab {
namespace {

// The batch path (AVX-512 where available) must give exactly the scalar buckets: sketches depend on it.
TEST(PairwiseHash, BatchBucketsEqualScalarBuckets) {
  SplitMix64 rng(99);
  for (int f = 0; f < 4; ++f) {
    const PairwiseHash h(rng);
    std::vector<uint64_t> keys;
    for (uint64_t i = 0; i < 77; ++i)
      keys.push_back(i * 0x9e3779b97f4a7c15ULL + (i << 40));  // odd tail of 77
    for (uint32_t n : {1u, 2u, 7u, 512u, 4294967295u}) {
      std::vector<uint32_t> out(keys.size() + 1, 0xdeadbeef);
      h.Buckets(keys.data(), keys.size(), n, out.data());
      for (size_t i = 0; i < keys.size(); ++i)
        ASSERT_EQ(out[i], h.Bucket(keys[i], n)) << "n=" << n << " i=" << i;
      EXPECT_EQ(out[keys.size()], 0xdeadbeefu);  // nothing written past the end
    }
  }
}

}  // namespace
}  // namespace kvlab

namespace kvlab {
namespace {

// ApplySigns (AVX-512 where available) must be exactly Sign(key) * value, for position keys and wide keys,
// tails shorter than a vector, signed zeros, and in place; it writes nothing past count.
TEST(PairwiseHash, ApplySignsEqualsSignTimesValue) {
  SplitMix64 rng(5);
  for (int f = 0; f < 3; ++f) {
    const PairwiseHash h(rng);
    std::vector<uint64_t> keys;
    std::vector<float> values;
    for (uint64_t i = 0; i < 45; ++i) {
      keys.push_back(f == 2 ? i * 0x9e3779b97f4a7c15ULL : 17 * i);  // f < 2: keys below 2^32
      values.push_back(i % 9 == 0 ? (i % 2 ? -0.0f : 0.0f) : 0.37f * static_cast<float>(i) - 5.0f);
    }
    for (size_t count : {size_t{0}, size_t{3}, size_t{8}, size_t{45}}) {
      std::vector<float> out(count + 1, 7.0f);
      h.ApplySigns(keys.data(), count, values.data(), out.data());
      for (size_t i = 0; i < count; ++i) {
        const float want = h.Sign(keys[i]) * values[i];
        ASSERT_EQ(std::bit_cast<uint32_t>(out[i]), std::bit_cast<uint32_t>(want))
            << "count " << count << " i " << i;
      }
      EXPECT_EQ(out[count], 7.0f);  // nothing written past the end
      std::vector<float> in_place(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(count));
      h.ApplySigns(keys.data(), count, in_place.data(), in_place.data());
      for (size_t i = 0; i < count; ++i)
        ASSERT_EQ(std::bit_cast<uint32_t>(in_place[i]), std::bit_cast<uint32_t>(out[i]));
    }
  }
}

}  // namespace
}  // namespace kvlab

namespace kvlab {
namespace {

// SignedBuckets (AVX-512 where available) must give, for every row, exactly Bucket(key, n) and
// Sign(key) * value of that row's two hashes, and BucketsOfRows the same buckets: 1 to 4 rows, position
// keys and wide keys (the wide path turns on per block of 8 keys, so one wide key among position keys is
// covered), tails shorter than a vector; neither writes past count in any row.
TEST(PairwiseHash, SignedBucketsAndBucketsOfRowsEqualBucketAndSignPerRow) {
  SplitMix64 rng(11);
  constexpr size_t kRows = PairwiseHash::kMaxSignedRows;
  std::vector<PairwiseHash> bucket_hashes, sign_hashes;
  for (size_t r = 0; r < kRows; ++r) bucket_hashes.emplace_back(rng);
  for (size_t r = 0; r < kRows; ++r) sign_hashes.emplace_back(rng);
  for (int f = 0; f < 3; ++f) {
    std::vector<uint64_t> keys;
    std::vector<float> values;
    for (uint64_t i = 0; i < 45; ++i) {
      // f 0: positions; f 1: positions but one wide key in the second block; f 2: all wide.
      const bool wide = f == 2 || (f == 1 && i == 11);
      keys.push_back(wide ? (i + 1) * 0x9e3779b97f4a7c15ULL : 31 * i + 5);
      values.push_back(i % 9 == 0 ? (i % 2 ? -0.0f : 0.0f) : 0.37f * static_cast<float>(i) - 5.0f);
    }
    for (size_t rows = 1; rows <= kRows; ++rows) {
      for (size_t count : {size_t{0}, size_t{5}, size_t{16}, size_t{45}}) {
        for (uint32_t n : {1u, 512u, 1000u}) {
          std::vector<std::vector<uint32_t>> buckets(rows, std::vector<uint32_t>(count + 1, 0xdeadbeef));
          std::vector<std::vector<float>> signed_values(rows, std::vector<float>(count + 1, 7.0f));
          uint32_t* bucket_out[kRows] = {};
          float* signed_out[kRows] = {};
          for (size_t r = 0; r < rows; ++r) {
            bucket_out[r] = buckets[r].data();
            signed_out[r] = signed_values[r].data();
          }
          PairwiseHash::SignedBuckets(bucket_hashes.data(), sign_hashes.data(), rows, keys.data(), count, n,
                                      values.data(), bucket_out, signed_out);
          for (size_t r = 0; r < rows; ++r) {
            for (size_t i = 0; i < count; ++i) {
              ASSERT_EQ(buckets[r][i], bucket_hashes[r].Bucket(keys[i], n))
                  << "f " << f << " rows " << rows << " row " << r << " i " << i;
              const float want = sign_hashes[r].Sign(keys[i]) * values[i];
              ASSERT_EQ(std::bit_cast<uint32_t>(signed_values[r][i]), std::bit_cast<uint32_t>(want))
                  << "f " << f << " rows " << rows << " row " << r << " i " << i;
            }
            EXPECT_EQ(buckets[r][count], 0xdeadbeefu);
            EXPECT_EQ(signed_values[r][count], 7.0f);
          }
          // BucketsOfRows: the same buckets, without the signs (a Count-Min sketch's update).
          std::vector<std::vector<uint32_t>> plain(rows, std::vector<uint32_t>(count + 1, 0xdeadbeef));
          for (size_t r = 0; r < rows; ++r) bucket_out[r] = plain[r].data();
          PairwiseHash::BucketsOfRows(bucket_hashes.data(), rows, keys.data(), count, n, bucket_out);
          for (size_t r = 0; r < rows; ++r) {
            for (size_t i = 0; i < count; ++i)
              ASSERT_EQ(plain[r][i], buckets[r][i]) << "row " << r << " i " << i;
            EXPECT_EQ(plain[r][count], 0xdeadbeefu);
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace kvlab
