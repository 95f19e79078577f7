// Quantized KvCache (kv/cache.h with a KvCodec) and attention over it (kv/attention_quant.h): the residual
// window, Keep / Merge over encoded and f32 slots, exact Bytes(), and attention against the f32 reference.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kvlab/kv/attention_quant.h"
#include "kvlab/kv/cache.h"
#include "kvlab/kv/channel_key_blocks.h"
#include "kvlab/kv/codec_layout.h"
#include "kvlab/ops/attention.h"
#include "simd_levels.h"

namespace kvlab {
namespace {

KvCacheShape Shape(size_t heads, size_t head_dim) {
  KvCacheShape c;
  c.n_layers = 2;
  c.n_heads = heads;
  c.n_kv_heads = heads;
  c.head_dim = head_dim;
  return c;
}

std::vector<float> Gaussian(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(n);
  for (float& v : x) v = dist(rng);
  return x;
}

std::vector<float> RowOf(const KvCache& c, size_t l, size_t h, size_t slot, bool key) {
  std::vector<float> scratch(c.head_dim());
  const float* p = key ? c.KeyRow(l, h, slot, scratch.data()) : c.ValueRow(l, h, slot, scratch.data());
  return {p, p + c.head_dim()};
}

TEST(QuantizedKvCache, KeepsTheResidualWindowInF32AndEncodesOlderSlots) {
  const KvCacheShape c = Shape(2, 16);
  KvCodec codec{CodecType::kInt4, CodecType::kInt8, 8, 3};
  KvCache cache(c, 12, codec);
  ASSERT_TRUE(cache.quantized());
  const std::vector<float> k = Gaussian(10 * 32, 1), v = Gaussian(10 * 32, 2);
  for (int t = 0; t < 10; ++t) {
    cache.Append(0, &k[t * 32], &v[t * 32], t);
    EXPECT_EQ(cache.QuantizedSlots(0, 1), static_cast<size_t>(std::max(0, t + 1 - 3)));
  }
  EXPECT_EQ(cache.Size(0, 0), 10u);
  EXPECT_EQ(cache.Size(1, 0), 0u);
  // The window is exact; encoded slots are within the codec's error.
  for (size_t h = 0; h < 2; ++h) {
    for (size_t s = 0; s < 10; ++s) {
      const auto key = RowOf(cache, 0, h, s, true), value = RowOf(cache, 0, h, s, false);
      for (size_t i = 0; i < 16; ++i) {
        const float kx = k[s * 32 + h * 16 + i], vx = v[s * 32 + h * 16 + i];
        if (s >= 7) {
          EXPECT_EQ(key[i], kx);
          EXPECT_EQ(value[i], vx);
        } else {
          EXPECT_NEAR(key[i], kx, 0.5f);   // int4: half step of a range < 8 over 15 levels
          EXPECT_NEAR(value[i], vx, 0.02f);  // int8
        }
      }
    }
  }
  const size_t key_row = CodecRowBytes(CodecType::kInt4, 16, 8), value_row = CodecRowBytes(CodecType::kInt8, 16, 8);
  EXPECT_EQ(key_row, 8u + 16u);
  EXPECT_EQ(value_row, 16u + 16u);
  EXPECT_EQ(cache.Bytes(), 2 * (7 * (key_row + value_row) + 3 * 2 * 16 * 4 + 10 * sizeof(SlotMeta)));
  // Only the residual window is allocated in f32.
  KvCache plain(c, 12);
  EXPECT_LT(cache.AllocatedBytes(), plain.AllocatedBytes());
}

TEST(QuantizedKvCache, KeepMovesEncodedAndF32SlotsWithoutReencoding) {
  const KvCacheShape c = Shape(1, 8);
  KvCache cache(c, 10, KvCodec{CodecType::kInt2, CodecType::kInt2, 4, 4});
  const std::vector<float> k = Gaussian(10 * 8, 3), v = Gaussian(10 * 8, 4);
  for (int t = 0; t < 10; ++t) cache.Append(1, &k[t * 8], &v[t * 8], t);
  ASSERT_EQ(cache.QuantizedSlots(1, 0), 6u);
  std::vector<std::vector<float>> before;
  for (size_t s = 0; s < 10; ++s) before.push_back(RowOf(cache, 1, 0, s, true));
  const uint32_t keep[] = {0, 3, 5, 6, 9};
  cache.Keep(1, 0, keep);
  ASSERT_EQ(cache.Size(1, 0), 5u);
  EXPECT_EQ(cache.QuantizedSlots(1, 0), 3u);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(cache.Meta(1, 0)[i].pos, static_cast<int32_t>(keep[i]));
    EXPECT_EQ(RowOf(cache, 1, 0, i, true), before[keep[i]]) << i;  // bit-identical: moved, not re-encoded
  }
  EXPECT_EQ(cache.Bytes(), 3 * 2 * CodecRowBytes(CodecType::kInt2, 8, 4) + 2 * 2 * 8 * 4 + 5 * sizeof(SlotMeta));
  // The window refills before anything more is encoded.
  const std::vector<float> extra = Gaussian(8, 5);
  cache.Append(1, extra.data(), extra.data(), 10);
  cache.Append(1, extra.data(), extra.data(), 11);
  EXPECT_EQ(cache.QuantizedSlots(1, 0), 3u);
  cache.Append(1, extra.data(), extra.data(), 12);
  EXPECT_EQ(cache.QuantizedSlots(1, 0), 4u);
  cache.Clear();
  EXPECT_EQ(cache.QuantizedSlots(1, 0), 0u);
  EXPECT_EQ(cache.Bytes(), 0u);
}

TEST(QuantizedKvCache, DropIsKeepOfTheComplement) {
  const KvCacheShape c = Shape(1, 8);
  const std::vector<float> k = Gaussian(10 * 8, 3), v = Gaussian(10 * 8, 4);
  KvCache dropped(c, 10, KvCodec{CodecType::kInt4, CodecType::kInt8, 4, 4});
  KvCache kept(c, 10, KvCodec{CodecType::kInt4, CodecType::kInt8, 4, 4});
  for (int t = 0; t < 10; ++t) {
    dropped.Append(1, &k[t * 8], &v[t * 8], t);
    kept.Append(1, &k[t * 8], &v[t * 8], t);
  }
  dropped.Prefetch(1, 0, 0, 10);  // encoded rows are not prefetched; the f32 ones are
  const uint32_t drop[] = {1, 2, 4, 7, 8}, keep[] = {0, 3, 5, 6, 9};
  dropped.Drop(1, 0, drop);
  kept.Keep(1, 0, keep);
  ASSERT_EQ(dropped.Size(1, 0), 5u);
  EXPECT_EQ(dropped.QuantizedSlots(1, 0), kept.QuantizedSlots(1, 0));
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(dropped.Meta(1, 0)[i].pos, static_cast<int32_t>(keep[i]));
    EXPECT_EQ(RowOf(dropped, 1, 0, i, true), RowOf(kept, 1, 0, i, true)) << i;
    EXPECT_EQ(RowOf(dropped, 1, 0, i, false), RowOf(kept, 1, 0, i, false)) << i;
  }
}

TEST(QuantizedKvCache, MergeAveragesDecodedRowsAndReencodes) {
  const KvCacheShape c = Shape(1, 4);
  KvCache cache(c, 4, KvCodec{CodecType::kInt8, CodecType::kF16, 4, 1});
  const float k0[] = {1, 2, 3, 4}, k1[] = {3, 6, 9, 12}, k2[] = {0, 0, 0, 1};
  cache.Append(0, k0, k0, 0);
  cache.Append(0, k1, k1, 1);
  cache.Append(0, k2, k2, 2);
  ASSERT_EQ(cache.QuantizedSlots(0, 0), 2u);
  cache.Merge(0, 0, 0, 1);
  const auto key = RowOf(cache, 0, 0, 0, true), value = RowOf(cache, 0, 0, 0, false);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_NEAR(key[i], 2.0f * (i + 1), 0.05f);
    EXPECT_NEAR(value[i], 2.0f * (i + 1), 0.01f);
  }
  EXPECT_EQ(cache.Meta(0, 0)[0].count, 2u);
  cache.Merge(0, 0, 2, 1);  // into the f32 window: exact mean of the stored rows
  EXPECT_FLOAT_EQ(RowOf(cache, 0, 0, 2, true)[3], 0.5f * (1.0f + RowOf(cache, 0, 0, 1, true)[3]));
}

// Attention over a quantized head against (a) the same attention over its decoded rows — the fused
// kernels must agree to float rounding — and (b) the f32 reference, within the codec's error.
TEST(QuantizedAttention, MatchesDecodedRowsAndStaysCloseToF32) {
  const size_t d = 64, n = 200;
  const KvCacheShape c = Shape(1, d);
  const std::vector<float> k = Gaussian(n * d, 6), v = Gaussian(n * d, 7), q = Gaussian(d, 8);
  KvCache ref(c, n);
  for (size_t t = 0; t < n; ++t) ref.Append(0, &k[t * d], &v[t * d], static_cast<int32_t>(t));
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  std::vector<float> scores(n), out_ref(d), out_q(d), out_dec(d);
  AttendHead(q.data(), ref.Keys(0, 0), ref.Values(0, 0), ref.Meta(0, 0), d, scale, n - 10, scores.data(),
             out_ref.data());
  double norm = 0;
  for (float x : out_ref) norm += static_cast<double>(x) * x;
  struct Case {
    KvCodec codec;
    double max_rel;  // bound on ||out - out_f32|| / ||out_f32||
  };
  for (const Case& cs : {Case{{CodecType::kF16, CodecType::kF16, 32, 0}, 1e-3},
                         Case{{CodecType::kBf16, CodecType::kBf16, 32, 16}, 1e-2},
                         Case{{CodecType::kInt8, CodecType::kInt8, 32, 0}, 0.02},
                         Case{{CodecType::kInt4, CodecType::kInt4, 32, 32}, 0.25},
                         Case{{CodecType::kInt2, CodecType::kInt2, 16, 32}, 1.0}}) {
    KvCache cache(c, n, cs.codec);
    for (size_t t = 0; t < n; ++t) cache.Append(0, &k[t * d], &v[t * d], static_cast<int32_t>(t));
    AttendHeadQuantized(q.data(), cache.Quantized(0, 0), cache.Meta(0, 0), d, scale, n - 10, scores.data(),
                        out_q.data());
    for (size_t t = n - 9; t < n; ++t) EXPECT_EQ(scores[t], 0.0f);  // causal mask still applies
    std::vector<float> dk(n * d), dv(n * d);
    for (size_t t = 0; t < n; ++t) {
      const auto kr = RowOf(cache, 0, 0, t, true), vr = RowOf(cache, 0, 0, t, false);
      std::memcpy(&dk[t * d], kr.data(), d * 4);
      std::memcpy(&dv[t * d], vr.data(), d * 4);
    }
    AttendHead(q.data(), dk.data(), dv.data(), cache.Meta(0, 0), d, scale, n - 10, scores.data(), out_dec.data());
    double err = 0;
    for (size_t i = 0; i < d; ++i) {
      EXPECT_NEAR(out_q[i], out_dec[i], 1e-5) << CodecName(cs.codec.k);
      err += (static_cast<double>(out_q[i]) - out_ref[i]) * (out_q[i] - out_ref[i]);
    }
    const double rel = std::sqrt(err / norm);
    std::printf("attention output rel. error vs f32, %s: %.5f\n", CodecSpec(cs.codec).c_str(), rel);
    EXPECT_LT(rel, cs.max_rel) << CodecSpec(cs.codec);
  }
}

TEST(QuantizedAttention, ResidualWindowCoveringTheCacheIsBitIdenticalToF32) {
  const size_t d = 16, n = 30;
  const KvCacheShape c = Shape(1, d);
  const std::vector<float> k = Gaussian(n * d, 9), v = Gaussian(n * d, 10), q = Gaussian(d, 11);
  KvCache ref(c, n), cache(c, n, KvCodec{CodecType::kInt2, CodecType::kInt2, 8, static_cast<uint32_t>(n)});
  for (size_t t = 0; t < n; ++t) {
    ref.Append(0, &k[t * d], &v[t * d], static_cast<int32_t>(t));
    cache.Append(0, &k[t * d], &v[t * d], static_cast<int32_t>(t));
  }
  EXPECT_EQ(cache.QuantizedSlots(0, 0), 0u);
  std::vector<float> s1(n), s2(n), o1(d), o2(d);
  AttendHead(q.data(), ref.Keys(0, 0), ref.Values(0, 0), ref.Meta(0, 0), d, 0.25f, n, s1.data(), o1.data());
  AttendHeadQuantized(q.data(), cache.Quantized(0, 0), cache.Meta(0, 0), d, 0.25f, n, s2.data(), o2.data());
  EXPECT_EQ(0, std::memcmp(o1.data(), o2.data(), d * 4));
  EXPECT_EQ(0, std::memcmp(s1.data(), s2.data(), n * 4));
}

// ---- KIVI per-channel keys (kaxis=channel, kv/channel_key_blocks.h) ----

KvCodec ChannelCodec(CodecType k, CodecType v, uint32_t group, uint32_t residual) {
  KvCodec codec{k, v, group, residual};
  codec.key_axis = KeyAxis::kChannel;
  return codec;
}

// Keys whose channel 3 is an outlier (×40) in every token: KIVI's observation about real keys.
std::vector<float> KeysWithOutlierChannel(size_t n, size_t d, uint32_t seed) {
  std::vector<float> k = Gaussian(n * d, seed);
  for (size_t t = 0; t < n; ++t) k[t * d + 3] = 40.0f + k[t * d + 3];
  return k;
}

double KeyError(const KvCache& cache, const std::vector<float>& k, size_t n, size_t d) {
  double err = 0, norm = 0;
  for (size_t t = 0; t < n; ++t) {
    const auto row = RowOf(cache, 0, 0, t, true);
    for (size_t i = 0; i < d; ++i) {
      if (i == 3) continue;  // the ordinary channels are what per-token groups ruin
      err += (row[i] - k[t * d + i]) * (row[i] - k[t * d + i]);
      norm += k[t * d + i] * k[t * d + i];
    }
  }
  return std::sqrt(err / norm);
}

TEST(ChannelKeys, BlocksOfGroupTokensLeaveTheWindowAndKeepPerChannelErrorBound) {
  const size_t d = 16, n = 40;
  const KvCacheShape c = Shape(1, d);
  const std::vector<float> k = KeysWithOutlierChannel(n, d, 21), v = Gaussian(n * d, 22);
  KvCache cache(c, n, ChannelCodec(CodecType::kInt4, CodecType::kInt8, 8, 12));
  for (size_t t = 0; t < n; ++t) {
    cache.Append(0, &k[t * d], &v[t * d], static_cast<int32_t>(t));
    // The window fills to 12, then its 8 oldest leave as one block: encoded counts are multiples of 8.
    const size_t expect = t + 1 <= 12 ? 0 : ((t + 1 - 12 + 7) / 8) * 8;
    ASSERT_EQ(cache.QuantizedSlots(0, 0), expect) << "t=" << t;
  }
  const size_t nq = cache.QuantizedSlots(0, 0);
  for (size_t t = 0; t < nq; ++t) {
    const size_t b0 = t / 8 * 8;
    const auto row = RowOf(cache, 0, 0, t, true);
    for (size_t i = 0; i < d; ++i) {
      float lo = k[b0 * d + i], hi = lo;
      for (size_t u = b0; u < b0 + 8; ++u) lo = std::min(lo, k[u * d + i]), hi = std::max(hi, k[u * d + i]);
      EXPECT_LE(std::fabs(row[i] - k[t * d + i]), (hi - lo) / 15.0f / 2.0f * 1.0001f + 1e-6f) << t << "," << i;
    }
  }
  for (size_t t = nq; t < n; ++t) EXPECT_EQ(RowOf(cache, 0, 0, t, true)[0], k[t * d]);  // window exact
  // Bytes: codes (8 B of int4 keys, 16 B of int8 values + 2 groups' scale/min per slot) + block ids + the
  // live blocks' scale/min rows.
  const size_t blocks = nq / 8;
  const size_t expected =
      nq * (8 + (16 + 2 * 8) + 4) + blocks * 2 * d * 4 + (n - nq) * 2 * d * 4 + n * sizeof(SlotMeta);
  EXPECT_EQ(cache.Bytes(), expected);
}

TEST(ChannelKeys, OutlierChannelHurtsPerTokenGroupsNotPerChannelBlocks) {
  const size_t d = 64, n = 128;
  const KvCacheShape c = Shape(1, d);
  const std::vector<float> k = KeysWithOutlierChannel(n, d, 23), v = Gaussian(n * d, 24);
  KvCache per_token(c, n, KvCodec{CodecType::kInt4, CodecType::kInt4, 32, 32});
  KvCache per_channel(c, n, ChannelCodec(CodecType::kInt4, CodecType::kInt4, 32, 32));
  for (size_t t = 0; t < n; ++t) {
    per_token.Append(0, &k[t * d], &v[t * d], static_cast<int32_t>(t));
    per_channel.Append(0, &k[t * d], &v[t * d], static_cast<int32_t>(t));
  }
  const double e_token = KeyError(per_token, k, n, d), e_channel = KeyError(per_channel, k, n, d);
  std::printf("int4 keys with an outlier channel: rel. error per-token %.4f, per-channel %.4f\n", e_token, e_channel);
  EXPECT_LT(e_channel * 4, e_token);
}

TEST(ChannelKeys, KeepReleasesBlocksAndAttentionMatchesDecodedRows) {
  const size_t d = 32, n = 96;
  const KvCacheShape c = Shape(1, d);
  const std::vector<float> k = KeysWithOutlierChannel(n, d, 25), v = Gaussian(n * d, 26), q = Gaussian(d, 27);
  for (CodecType type : {CodecType::kInt8, CodecType::kInt4, CodecType::kInt2}) {
    KvCache cache(c, n, ChannelCodec(type, CodecType::kInt8, 16, 16));
    for (size_t t = 0; t < n; ++t) cache.Append(0, &k[t * d], &v[t * d], static_cast<int32_t>(t));
    ASSERT_EQ(cache.QuantizedSlots(0, 0), 80u);
    // Keep one slot of block 0, none of block 1, all of block 2, odd slots after: block 1 must be freed.
    std::vector<uint32_t> keep = {5};
    for (uint32_t s = 32; s < 48; ++s) keep.push_back(s);
    for (uint32_t s = 49; s < n; s += 2) keep.push_back(s);
    std::vector<std::vector<float>> before;
    for (uint32_t s : keep) before.push_back(RowOf(cache, 0, 0, s, true));
    const size_t bytes_before = cache.Bytes();
    cache.Keep(0, 0, keep);
    for (size_t i = 0; i < keep.size(); ++i) EXPECT_EQ(RowOf(cache, 0, 0, i, true), before[i]) << "slot " << i;
    // 5 blocks (0..4) encoded; block 1 lost all its slots, the other four live on.
    const size_t live_blocks = 4, nq = cache.QuantizedSlots(0, 0);
    const size_t nf = cache.Size(0, 0) - nq;
    const size_t code = (d * static_cast<size_t>(CodecBits(type)) + 7) / 8;
    EXPECT_EQ(cache.Bytes(), nq * (code + CodecRowBytes(CodecType::kInt8, d, 16) + 4) + live_blocks * 2 * d * 4 +
                                 nf * 2 * d * 4 + cache.Size(0, 0) * sizeof(SlotMeta))
        << CodecName(type);
    EXPECT_LT(cache.Bytes(), bytes_before);
    // Attention over the codes equals attention over the decoded rows.
    const size_t m = cache.Size(0, 0);
    std::vector<float> dk(m * d), dv(m * d), s1(m), s2(m), o1(d), o2(d);
    for (size_t t = 0; t < m; ++t) {
      const auto kr = RowOf(cache, 0, 0, t, true), vr = RowOf(cache, 0, 0, t, false);
      std::memcpy(&dk[t * d], kr.data(), d * 4);
      std::memcpy(&dv[t * d], vr.data(), d * 4);
    }
    const int32_t qpos = static_cast<int32_t>(n);
    AttendHeadQuantized(q.data(), cache.Quantized(0, 0), cache.Meta(0, 0), d, 0.2f, qpos, s1.data(), o1.data());
    AttendHead(q.data(), dk.data(), dv.data(), cache.Meta(0, 0), d, 0.2f, qpos, s2.data(), o2.data());
    for (size_t i = 0; i < d; ++i) EXPECT_NEAR(o1[i], o2[i], 1e-4) << CodecName(type);
    // A merge gives the summary its own exact block; freeing everything returns Bytes to the f32 part.
    const auto a = RowOf(cache, 0, 0, 0, true), b = RowOf(cache, 0, 0, 1, true);
    cache.Merge(0, 0, 0, 1);
    const auto merged = RowOf(cache, 0, 0, 0, true);
    for (size_t i = 0; i < d; ++i) EXPECT_FLOAT_EQ(merged[i], 0.5f * a[i] + 0.5f * b[i]);
    std::vector<uint32_t> tail;
    for (uint32_t s = static_cast<uint32_t>(nq); s < m; ++s) tail.push_back(s);
    cache.Keep(0, 0, tail);
    EXPECT_EQ(cache.QuantizedSlots(0, 0), 0u);
    EXPECT_EQ(cache.Bytes(), tail.size() * (2 * d * 4 + sizeof(SlotMeta)));
  }
}

// The batched per-slot part of per-channel key scores (one call per block of slots) against a plain f64
// sum over the codes, at every SIMD level: the AVX-512 kernels (int8/int2 at head_dim 64 and 128, int4 at
// 32..128), their fallbacks (int8/int2 at 32 and 96, odd sizes), 16-row batches and a tail, rows at an odd
// address with a padded stride.
TEST(ChannelKeys, BatchedCodeDotsMatchAPlainSum) {
  ForEachSimdLevel([&](SimdLevel level) {
    for (CodecType type : {CodecType::kInt8, CodecType::kInt4, CodecType::kInt2}) {
      for (size_t d : {32, 64, 96, 128, 40}) {
        const size_t count = 37, bits = static_cast<size_t>(CodecBits(type));
        const size_t row_bytes = (d * bits + 7) / 8 + 5;  // padded stride
        std::vector<uint8_t> rows(count * row_bytes + 1);
        std::mt19937 rng(static_cast<uint32_t>(d * 10 + bits));
        for (uint8_t& b : rows) b = static_cast<uint8_t>(rng());
        const uint8_t* base = rows.data() + 1;  // odd address
        const std::vector<float> qs = Gaussian(d, static_cast<uint32_t>(d));
        std::vector<float> out(count + 1, 99.0f);
        ChannelCodeDotRows(type, base, row_bytes, count, qs.data(), d, out.data());
        const std::string where = std::string(CodecName(type)) + " d=" + std::to_string(d) + " " +
                                  SimdLevelName(level);
        for (size_t j = 0; j < count; ++j) {
          double want = 0, mag = 0;
          for (size_t i = 0; i < d; ++i) {
            const uint8_t* r = base + j * row_bytes;
            const double code = bits == 8   ? r[i]
                                : bits == 4 ? codec_layout::CodeAt<4>(r, i)
                                            : codec_layout::CodeAt<2>(r, i);
            want += code * qs[i];
            mag += std::abs(code * qs[i]);
          }
          ASSERT_NEAR(out[j], want, 1e-5 * mag + 1e-6) << where << " row " << j;
        }
        EXPECT_EQ(out[count], 99.0f) << where << ": wrote past count";
      }
    }
  });
}

}  // namespace
}  // namespace kvlab
