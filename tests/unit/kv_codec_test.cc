// KV codecs (kv/codec.h): round-trip error of every codec on Gaussian rows (the numbers docs/POLICIES.md
// quotes), the hard per-value bound of the integer codecs, and the fused dot / axpy kernels against
// decode-then-compute.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "kvlab/kv/codec.h"
#include "simd_levels.h"

namespace kvlab {
namespace {

constexpr CodecType kAll[] = {CodecType::kF32, CodecType::kF16, CodecType::kBf16,
                              CodecType::kInt8, CodecType::kInt4, CodecType::kInt2};

std::vector<float> Gaussian(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(n);
  for (float& v : x) v = dist(rng);
  return x;
}

// ||x - decode(encode(x))|| / ||x|| over `rows` rows of n values.
double RelativeError(CodecType type, const std::vector<float>& x, size_t n, size_t group) {
  std::vector<uint8_t> row(CodecRowBytes(type, n, group));
  std::vector<float> back(n);
  double err = 0, norm = 0;
  for (size_t r = 0; r * n < x.size(); ++r) {
    EncodeRow(type, x.data() + r * n, n, group, row.data());
    DecodeRow(type, row.data(), n, group, back.data());
    for (size_t i = 0; i < n; ++i) {
      const double d = static_cast<double>(x[r * n + i]) - back[i];
      err += d * d;
      norm += static_cast<double>(x[r * n + i]) * x[r * n + i];
    }
  }
  return std::sqrt(err / norm);
}

TEST(KvCodec, NamesParseBackAndRowBytesCountCodesAndScales) {
  for (CodecType t : kAll) EXPECT_EQ(*ParseCodec(CodecName(t)), t);
  EXPECT_FALSE(ParseCodec("int3").has_value());
  EXPECT_EQ(CodecRowBytes(CodecType::kF32, 64, 32), 256u);
  EXPECT_EQ(CodecRowBytes(CodecType::kF16, 64, 32), 128u);
  EXPECT_EQ(CodecRowBytes(CodecType::kInt8, 64, 32), 64u + 2 * 8);
  EXPECT_EQ(CodecRowBytes(CodecType::kInt4, 64, 32), 32u + 2 * 8);
  EXPECT_EQ(CodecRowBytes(CodecType::kInt2, 64, 32), 16u + 2 * 8);
  EXPECT_EQ(CodecRowBytes(CodecType::kInt4, 10, 4), 5u + 3 * 8);  // ragged last group, odd nibble count
  EXPECT_EQ(CodecRowBytes(CodecType::kInt2, 6, 32), 2u + 8);
}

// Gaussian N(0,1), rows of 64 in groups of 32. For an integer codec with b bits the rounding error of a
// value is uniform on [-s/2, s/2], s = range / (2^b - 1), so its RMS is s / sqrt(12); the expected range of
// 32 standard normals is about 4.1, giving a relative RMS error of 4.1 / ((2^b - 1) sqrt(12)):
// int8 0.46%, int4 7.9%, int2 39%. The bounds below leave ~25% headroom over those estimates; f16 / bf16
// round to nearest with 11 / 8 significant bits, relative error <= 2^-11 / 2^-8 per value.
TEST(KvCodec, RoundTripErrorOnGaussianRows) {
  const size_t n = 64, group = 32;
  const std::vector<float> x = Gaussian(n * 4096, 1);
  const double bound[] = {0.0, std::ldexp(1.0, -11), std::ldexp(1.0, -8), 0.01, 0.10, 0.50};
  std::printf("codec  bits/value(incl. scales)  rel.err(gaussian, head_dim 64, group 32)\n");
  for (CodecType t : kAll) {
    const double err = RelativeError(t, x, n, group);
    const double bits = 8.0 * CodecRowBytes(t, n, group) / n;
    std::printf("%-5s  %5.2f  %.5f\n", CodecName(t), bits, err);
    EXPECT_LE(err, bound[static_cast<int>(t)]) << CodecName(t);
    if (t == CodecType::kF32) {
      EXPECT_EQ(err, 0.0);
    }
  }
  EXPECT_LT(RelativeError(CodecType::kInt8, x, n, group), 0.01);  // the acceptance number
}

TEST(KvCodec, IntegerCodecsMeetTheHalfStepBoundOnEveryValue) {
  const size_t n = 40, group = 16;  // ragged: groups of 16, 16, 8
  const std::vector<float> x = Gaussian(n * 256, 2);
  for (CodecType t : {CodecType::kInt8, CodecType::kInt4, CodecType::kInt2}) {
    std::vector<uint8_t> row(CodecRowBytes(t, n, group));
    std::vector<float> back(n);
    const float levels = static_cast<float>((1 << CodecBits(t)) - 1);
    for (size_t r = 0; r * n < x.size(); ++r) {
      const float* xr = x.data() + r * n;
      EncodeRow(t, xr, n, group, row.data());
      DecodeRow(t, row.data(), n, group, back.data());
      for (size_t lo = 0; lo < n; lo += group) {
        const size_t hi = std::min(n, lo + group);
        float mn = xr[lo], mx = xr[lo];
        for (size_t i = lo; i < hi; ++i) mn = std::min(mn, xr[i]), mx = std::max(mx, xr[i]);
        const float half_step = (mx - mn) / levels / 2;
        for (size_t i = lo; i < hi; ++i) {
          ASSERT_LE(std::fabs(xr[i] - back[i]), half_step * 1.0001f + 1e-6f) << CodecName(t) << " value " << i;
          ASSERT_GE(back[i], mn - 1e-5f);
          ASSERT_LE(back[i], mx + 1e-5f);
        }
      }
    }
  }
}

TEST(KvCodec, ConstantGroupsAndSpecialValuesAreExact) {
  const size_t n = 8;
  const std::vector<float> x(n, 0.375f);
  for (CodecType t : kAll) {
    std::vector<uint8_t> row(CodecRowBytes(t, n, 4));
    std::vector<float> back(n);
    EncodeRow(t, x.data(), n, 4, row.data());
    DecodeRow(t, row.data(), n, 4, back.data());
    for (float v : back) EXPECT_EQ(v, 0.375f) << CodecName(t);
  }
  // f16: overflow saturates to inf, subnormals survive, signs stay.
  const float special[] = {70000.0f, -1e-6f, 0.0f, -0.0f, 65504.0f, 1.0f / 3};
  std::vector<uint8_t> row(CodecRowBytes(CodecType::kF16, 6, 32));
  float back[6];
  EncodeRow(CodecType::kF16, special, 6, 32, row.data());
  DecodeRow(CodecType::kF16, row.data(), 6, 32, back);
  EXPECT_TRUE(std::isinf(back[0]));
  EXPECT_NEAR(back[1], -1e-6f, 1e-7f);
  EXPECT_EQ(back[2], 0.0f);
  EXPECT_TRUE(std::signbit(back[3]));
  EXPECT_EQ(back[4], 65504.0f);
  EXPECT_NEAR(back[5], 1.0f / 3, 1.0f / 3 * std::ldexp(1.0f, -11));
}

TEST(KvCodec, FusedDotAndAxpyMatchDecodeThenCompute) {
  // Every SIMD level this CPU has (KernelsFor picks AVX-512 int8/int4 kernels), sizes with masked tails,
  // odd groups (int4 groups then start on a high nibble) and groups longer than one vector.
  ForEachSimdLevel([&](SimdLevel level) {
    for (const auto& [n, group] : std::vector<std::pair<size_t, size_t>>{
             {8, 32}, {64, 32}, {13, 5}, {100, 7}, {128, 48}, {64, 64}, {33, 16}, {96, 3}}) {
      const std::vector<float> x = Gaussian(n, 3), q = Gaussian(n, 4);
      for (CodecType t : kAll) {
        std::vector<uint8_t> row(CodecRowBytes(t, n, group) + 1);  // +1: read at an odd address below
        uint8_t* r = row.data() + 1;
        std::vector<float> back(n), y(n, 0.5f);
        EncodeRow(t, x.data(), n, group, r);
        DecodeRow(t, r, n, group, back.data());
        double dot_ref = 0;
        for (size_t i = 0; i < n; ++i) dot_ref += static_cast<double>(back[i]) * q[i];
        const CodecKernels k = KernelsFor(t);
        const std::string where = std::string(CodecName(t)) + " n=" + std::to_string(n) + " group=" +
                                  std::to_string(group) + " simd=" + SimdLevelName(level);
        EXPECT_NEAR(k.dot(r, q.data(), n, group), dot_ref, 2e-4 * (1 + std::abs(dot_ref))) << where;
        k.axpy(0.7f, r, y.data(), n, group);
        for (size_t i = 0; i < n; ++i) EXPECT_NEAR(y[i], 0.5f + 0.7f * back[i], 1e-5) << where << " i=" << i;
      }
    }
  });
}

// The row-batched kernels (one call per head) against decode-then-compute in f64, at every SIMD level: the
// AVX-512 fast paths (n, group multiples of 16, n <= 128; for int4 with groups a multiple of 32, the
// even/odd split, n = 32..128 in 1..4 chunks and groups of 1..4 chunks; for int8 and int2 with n = 64 or
// 128, the 4-per-lane split with groups of 16..128), their fallbacks, rows at odd addresses and strides, 16-row
// batches and a tail, and zero weights (skipped rows) in the weighted sum.
TEST(KvCodec, RowBatchedDotAndWeightedSumMatchDecodeThenCompute) {
  ForEachSimdLevel([&](SimdLevel level) {
    for (const auto& [n, group] : std::vector<std::pair<size_t, size_t>>{
             {64, 32}, {128, 32}, {128, 64}, {48, 16}, {16, 16}, {64, 48}, {100, 20}, {160, 32}, {13, 5},
             {32, 32}, {96, 32}, {128, 128}, {64, 64}, {96, 96}, {64, 16}, {128, 16}}) {
      for (CodecType t : kAll) {
        const size_t count = 37, row_bytes = CodecRowBytes(t, n, group) + 3;  // padded stride
        std::vector<uint8_t> rows(count * row_bytes + 1);
        uint8_t* base = rows.data() + 1;  // odd address
        std::vector<std::vector<float>> decoded(count, std::vector<float>(n));
        for (size_t j = 0; j < count; ++j) {
          const std::vector<float> x = Gaussian(n, static_cast<uint32_t>(100 + j));
          EncodeRow(t, x.data(), n, group, base + j * row_bytes);
          DecodeRow(t, base + j * row_bytes, n, group, decoded[j].data());
        }
        const std::vector<float> q = Gaussian(n, 7);
        std::vector<float> p = Gaussian(count, 8);
        p[3] = 0.0f;
        p[20] = 0.0f;
        const CodecKernels k = KernelsFor(t);
        const std::string where = std::string(CodecName(t)) + " n=" + std::to_string(n) + " group=" +
                                  std::to_string(group) + " simd=" + SimdLevelName(level);
        std::vector<float> out(count + 1, 99.0f);
        k.dot_rows(base, row_bytes, count, q.data(), n, group, out.data());
        for (size_t j = 0; j < count; ++j) {
          double ref = 0, mag = 0;
          for (size_t i = 0; i < n; ++i) {
            ref += static_cast<double>(decoded[j][i]) * q[i];
            mag += std::abs(static_cast<double>(decoded[j][i]) * q[i]);
          }
          ASSERT_NEAR(out[j], ref, 1e-5 * mag + 1e-6) << where << " row " << j;
        }
        EXPECT_EQ(out[count], 99.0f) << where << ": wrote past count";
        std::vector<float> y(n + 1, 0.25f);
        k.weighted_sum(base, row_bytes, count, p.data(), y.data(), n, group);
        for (size_t i = 0; i < n; ++i) {
          double ref = 0.25, mag = 0.25;
          for (size_t j = 0; j < count; ++j) {
            ref += static_cast<double>(p[j]) * decoded[j][i];
            mag += std::abs(static_cast<double>(p[j]) * decoded[j][i]);
          }
          ASSERT_NEAR(y[i], ref, 1e-5 * mag + 1e-6) << where << " i=" << i;
        }
        EXPECT_EQ(y[n], 0.25f) << where << ": wrote past n";
      }
    }
  });
}

}  // namespace
}  // namespace kvlab
