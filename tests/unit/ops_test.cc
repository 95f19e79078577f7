// Norms, RoPE, activations and attention against hand-written references.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "kvlab/ops/activations.h"
#include "kvlab/ops/attention.h"
#include "kvlab/ops/norms.h"
#include "kvlab/ops/rope.h"
#include "simd_levels.h"

namespace kvlab {
namespace {

TEST(Norms, RmsNormOfConstantVectorIsWeight) {
  std::vector<float> x(8, 3.0f), w = {1, 2, 3, 4, 5, 6, 7, 8}, out(8);
  RmsNorm(x.data(), w.data(), 8, 0.0f, out.data());
  for (size_t i = 0; i < 8; ++i) EXPECT_NEAR(out[i], w[i], 1e-6);
}

TEST(Norms, LayerNormHasZeroMeanUnitVariance) {
  std::vector<float> x = {1, 2, 3, 4, 10, -3}, w(6, 1.0f), b(6, 0.5f), out(6);
  LayerNorm(x.data(), w.data(), b.data(), 6, 0.0f, out.data());
  double mean = 0, var = 0;
  for (float v : out) mean += v - 0.5;
  mean /= 6;
  for (float v : out) var += (v - 0.5 - mean) * (v - 0.5 - mean);
  EXPECT_NEAR(mean, 0.0, 1e-6);
  EXPECT_NEAR(var / 6, 1.0, 1e-5);
}

TEST(Rope, PositionZeroIsIdentityAndRotationKeepsNorm) {
  std::vector<float> x = {1, 2, 3, 4, 5, 6, 7, 8};
  RopeAngles a;
  a.Compute(0, 8, 10000.0f);
  std::vector<float> y = x;
  ApplyRope(y.data(), 1, 8, RopeStyle::kHalf, a);
  EXPECT_EQ(x, y);
  a.Compute(37, 8, 10000.0f);
  for (RopeStyle s : {RopeStyle::kInterleaved, RopeStyle::kHalf}) {
    y = x;
    ApplyRope(y.data(), 1, 8, s, a);
    for (size_t pair = 0; pair < 4; ++pair) {
      const size_t i = s == RopeStyle::kInterleaved ? 2 * pair : pair;
      const size_t j = s == RopeStyle::kInterleaved ? 2 * pair + 1 : pair + 4;
      EXPECT_NEAR(y[i] * y[i] + y[j] * y[j], x[i] * x[i] + x[j] * x[j], 1e-4);
    }
  }
}

TEST(Rope, HalfStyleEqualsInterleavedUnderPermutation) {
  // HF checkpoints permute Q/K rows so that rotate-half on them equals interleaved RoPE on Meta's layout.
  std::vector<float> inter = {1, 2, 3, 4, 5, 6}, half = {1, 3, 5, 2, 4, 6};
  RopeAngles a;
  a.Compute(5, 6, 10000.0f);
  ApplyRope(inter.data(), 1, 6, RopeStyle::kInterleaved, a);
  ApplyRope(half.data(), 1, 6, RopeStyle::kHalf, a);
  for (size_t p = 0; p < 3; ++p) {
    EXPECT_NEAR(inter[2 * p], half[p], 1e-6);
    EXPECT_NEAR(inter[2 * p + 1], half[p + 3], 1e-6);
  }
}

TEST(Activations, KnownValues) {
  std::vector<float> g = {0.0f, 1.0f, -2.0f}, u = {5.0f, 2.0f, 1.0f};
  SwiGlu(g.data(), u.data(), 3);
  EXPECT_NEAR(g[0], 0.0, 1e-7);
  EXPECT_NEAR(g[1], 2.0 / (1.0 + std::exp(-1.0)), 1e-6);
  EXPECT_NEAR(g[2], -2.0 / (1.0 + std::exp(2.0)), 1e-6);
  std::vector<float> e = {1.0f, -1.0f}, t = {1.0f, -1.0f};
  GeluErf(e.data(), 2);
  GeluTanh(t.data(), 2);
  EXPECT_NEAR(e[0], 0.8413447460685429, 1e-6);
  EXPECT_NEAR(e[1], -0.15865525393145707, 1e-6);
  EXPECT_NEAR(t[0], 0.8411919906082768, 1e-6);
}

TEST(Attention, MatchesNaiveSoftmaxAndMasksFuturePositions) {
  std::mt19937 rng(5);
  std::normal_distribution<float> d;
  const size_t hd = 12, n = 9;
  std::vector<float> q(hd), k(n * hd), v(n * hd), scores(n), out(hd);
  for (float& x : q) x = d(rng);
  for (float& x : k) x = d(rng);
  for (float& x : v) x = d(rng);
  std::vector<SlotMeta> meta(n);
  for (size_t j = 0; j < n; ++j) meta[j].pos = static_cast<int32_t>(j * 2);  // positions 0,2,...,16
  const int32_t query_pos = 9;  // sees slots with pos <= 9: j = 0..4
  const float scale = 0.3f;
  AttendHead(q.data(), k.data(), v.data(), meta, hd, scale, query_pos, scores.data(), out.data());
  std::vector<double> p(n, 0.0);
  double z = 0;
  for (size_t j = 0; j <= 4; ++j) {
    double s = 0;
    for (size_t i = 0; i < hd; ++i) s += q[i] * k[j * hd + i];
    p[j] = std::exp(s * scale);
    z += p[j];
  }
  for (size_t j = 0; j < n; ++j) EXPECT_NEAR(scores[j], p[j] / z, 1e-6) << j;
  for (size_t i = 0; i < hd; ++i) {
    double ref = 0;
    for (size_t j = 0; j <= 4; ++j) ref += p[j] / z * v[j * hd + i];
    EXPECT_NEAR(out[i], ref, 1e-5);
  }
}

// Every path of AttendHead against an f64 softmax, at every SIMD level this CPU has: the AVX-512 one-pass
// kernel (16-slot blocks; head sizes 16..128 in steps of 16, a partial last block), the blocked path (heads
// longer than 256 slots, blocks of 128) and the two-pass path. The cases: a first block entirely masked (the
// running maximum starts at -inf), logits that grow block after block (the output is rescaled each time the
// maximum moves), summary slots, masked slots scattered later, odd head sizes; the probabilities left in
// `scores` must be the final ones.
TEST(Attention, EveryPathMatchesF64Softmax) {
  std::mt19937 rng(21);
  std::normal_distribution<float> d;
  ForEachSimdLevel([&](SimdLevel level) {
    for (size_t hd : {16u, 20u, 64u, 128u, 144u}) {
      for (size_t n : {1u, 15u, 16u, 17u, 140u, 257u, 300u, 1000u, 2049u}) {
        std::vector<float> q(hd), k(n * hd), v(n * hd), scores(n), out(hd);
        for (float& x : q) x = d(rng);
        for (float& x : v) x = d(rng);
        for (size_t j = 0; j < n; ++j) {
          const float grow = 0.2f + 0.5f * static_cast<float>(j / 128);  // later blocks: larger logits
          for (size_t i = 0; i < hd; ++i) k[j * hd + i] = grow * d(rng);
        }
        const int32_t query_pos = 5000;
        std::vector<SlotMeta> meta(n);
        for (size_t j = 0; j < n; ++j) {
          meta[j].pos = static_cast<int32_t>(j);
          const bool first_block_masked = n > 128 && j < 128;
          if (first_block_masked || j % 7 == 3) meta[j].pos = query_pos + 1 + static_cast<int32_t>(j);  // masked
          if (j % 11 == 5) meta[j].count = 3;                                                         // summary
        }
        const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
        AttendHead(q.data(), k.data(), v.data(), meta, hd, scale, query_pos, scores.data(), out.data());
        std::vector<double> logit(n, -INFINITY);
        double mx = -INFINITY;
        for (size_t j = 0; j < n; ++j) {
          if (meta[j].pos > query_pos) continue;
          double s = 0;
          for (size_t i = 0; i < hd; ++i) s += static_cast<double>(q[i]) * k[j * hd + i];
          logit[j] = s * scale + std::log(static_cast<double>(meta[j].count));
          mx = std::max(mx, logit[j]);
        }
        double z = 0;
        for (size_t j = 0; j < n; ++j) z += std::exp(logit[j] - mx);
        const std::string where = "n=" + std::to_string(n) + " hd=" + std::to_string(hd) + " simd=" + SimdLevelName(level);
        for (size_t j = 0; j < n; ++j) {
          const double p = std::exp(logit[j] - mx) / z;
          if (meta[j].pos > query_pos) {
            ASSERT_EQ(scores[j], 0.0f) << "masked slot " << j << " " << where;
          } else {
            ASSERT_NEAR(scores[j], p, 1e-5 * p + 1e-9) << "slot " << j << " " << where;
          }
        }
        for (size_t i = 0; i < hd; ++i) {
          double ref = 0, mag = 0;
          for (size_t j = 0; j < n; ++j) {
            const double p = std::exp(logit[j] - mx) / z;
            ref += p * v[j * hd + i];
            mag += p * std::abs(v[j * hd + i]);
          }
          ASSERT_NEAR(out[i], ref, 1e-5 * mag + 1e-7) << where << " i=" << i;
        }
      }
    }
  });
}

// The reuse hint only changes how rows are prefetched: the result is bit-identical.
TEST(Attention, ReuseHintDoesNotChangeTheResult) {
  std::mt19937 rng(8);
  std::normal_distribution<float> d;
  for (size_t hd : {16u, 64u, 128u}) {
    for (size_t n : {5u, 33u, 300u}) {
      std::vector<float> q(hd), k(n * hd), v(n * hd), s1(n), s2(n), o1(hd), o2(hd);
      for (float& x : q) x = d(rng);
      for (float& x : k) x = d(rng);
      for (float& x : v) x = d(rng);
      std::vector<SlotMeta> meta(n);
      for (size_t j = 0; j < n; ++j) meta[j].pos = static_cast<int32_t>(j);
      const int32_t query_pos = static_cast<int32_t>(n) - 2;
      AttendHead(q.data(), k.data(), v.data(), meta, hd, 0.2f, query_pos, s1.data(), o1.data(), KvReuse::kOnce);
      AttendHead(q.data(), k.data(), v.data(), meta, hd, 0.2f, query_pos, s2.data(), o2.data(), KvReuse::kAgain);
      EXPECT_EQ(s1, s2) << "n=" << n << " hd=" << hd;
      EXPECT_EQ(o1, o2) << "n=" << n << " hd=" << hd;
    }
  }
}

// A masked slot's value row must not reach the output even when it is not finite (0 · inf would be NaN).
TEST(Attention, MaskedSlotsValuesNeverReachTheOutput) {
  ForEachSimdLevel([&](SimdLevel level) {
    for (size_t n : {20u, 600u}) {
      const size_t hd = 64;
      std::vector<float> q(hd, 0.1f), k(n * hd, 0.5f), v(n * hd, 1.0f), scores(n), out(hd);
      std::vector<SlotMeta> meta(n);
      for (size_t j = 0; j < n; ++j) meta[j].pos = static_cast<int32_t>(j);
      for (size_t j = n / 2; j < n; ++j) std::fill(v.begin() + j * hd, v.begin() + (j + 1) * hd, INFINITY);
      AttendHead(q.data(), k.data(), v.data(), meta, hd, 0.125f, static_cast<int32_t>(n / 2 - 1), scores.data(),
                 out.data());
      for (float o : out) ASSERT_NEAR(o, 1.0f, 1e-6) << "n=" << n << " simd=" << SimdLevelName(level);
    }
  });
}

TEST(Attention, NoVisibleSlotGivesZeroOutputOnEveryPath) {
  ForEachSimdLevel([&](SimdLevel level) {
    for (size_t n : {5u, 17u, 600u}) {
      const size_t hd = 16;
      std::vector<float> q(hd, 1.0f), k(n * hd, 0.5f), v(n * hd, 2.0f), scores(n, 3.0f), out(hd, 7.0f);
      std::vector<SlotMeta> meta(n);
      for (size_t j = 0; j < n; ++j) meta[j].pos = 100 + static_cast<int32_t>(j);
      AttendHead(q.data(), k.data(), v.data(), meta, hd, 0.25f, 10, scores.data(), out.data());
      for (float o : out) EXPECT_EQ(o, 0.0f) << "n=" << n << " simd=" << SimdLevelName(level);
      for (float p : scores) EXPECT_EQ(p, 0.0f) << "n=" << n << " simd=" << SimdLevelName(level);
    }
  });
}

}  // namespace
}  // namespace kvlab
