// The prefill attention tile (ops/attention_prefill.h) against the per-query AttendHead on the same slots:
// tiles of 1, 17 and 64 queries, head dims that are and are not multiples of 16, slots with gaps (as after
// eviction) and summary slots (count > 1), a sliding window, and queries that see no slot at all.
#include "kvlab/ops/attention_prefill.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kvlab/ops/attention.h"
#include "kvlab/ops/cpu_features.h"
#include "kvlab/ops/gemm_kernels.h"

namespace kvlab {
namespace {

struct Case {
  size_t head_dim;
  size_t count;
  int32_t window;
};

TEST(AttentionPrefill, TileMatchesPerQueryAttention) {
  if (DetectSimdLevel() < SimdLevel::kAvx512) GTEST_SKIP() << "no AVX-512 on this CPU";
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (const Case& tc :
       {Case{64, 64, 0}, Case{64, 17, 0}, Case{80, 1, 0}, Case{80, 64, 12}, Case{48, 40, 5}}) {
    const size_t d = tc.head_dim;
    // Slots: positions 0, 2, 3, 5, ... (every third one dropped), the last ones the tile's own tokens.
    std::vector<SlotMeta> meta;
    for (int32_t p = 0; p < 150; ++p) {
      if (p % 3 == 1 && p < 100) continue;
      meta.push_back({p, p % 11 == 4 ? 3u : 1u});
    }
    const size_t n = meta.size();
    std::vector<float> keys(n * d), values(n * d), q(tc.count * d * 2);
    for (float& v : keys) v = normal(rng);
    for (float& v : values) v = normal(rng);
    for (float& v : q) v = normal(rng);
    // Queries from position 90 on (the first few see slots only up to theirs), rows 2·d apart.
    kernels::QueryTile tile;
    tile.q = q.data();
    tile.q_stride = 2 * d;
    tile.count = tc.count;
    tile.first_pos = 150 - static_cast<int32_t>(tc.count);
    std::vector<float> out(tc.count * (d + 3), NAN);
    tile.out = out.data();
    tile.out_stride = d + 3;
    const kernels::KvHeadView kv{keys.data(), values.data(), meta.data(), n, d, tc.window};
    const float scale = 1.0f / std::sqrt(static_cast<float>(d));
    kernels::AttendQueryTileAvx512(tile, kv, scale);

    std::vector<float> scores(n), want(d);
    for (size_t i = 0; i < tc.count; ++i) {
      const int32_t pos = tile.first_pos + static_cast<int32_t>(i);
      size_t first = 0;  // the window's first slot, as the model skips it before AttendHead
      while (tc.window > 0 && first < n && meta[first].pos < pos - tc.window + 1) ++first;
      AttendHead(tile.q + i * tile.q_stride, keys.data() + first * d, values.data() + first * d,
                 std::span<const SlotMeta>(meta).subspan(first), d, scale, pos, scores.data(), want.data());
      for (size_t c = 0; c < d; ++c) {
        ASSERT_NEAR(out[i * tile.out_stride + c], want[c], 2e-5f * (1.0f + std::fabs(want[c])))
            << "head_dim " << d << " count " << tc.count << " window " << tc.window << " query " << i
            << " dim " << c;
      }
    }
  }
}

TEST(AttentionPrefill, QueriesBeforeEverySlotGetZeros) {
  if (DetectSimdLevel() < SimdLevel::kAvx512) GTEST_SKIP() << "no AVX-512 on this CPU";
  const size_t d = 32;
  const std::vector<SlotMeta> meta = {{10, 1}, {11, 1}, {12, 1}};
  const std::vector<float> keys(3 * d, 0.5f), values(3 * d, 2.0f), q(4 * d, 1.0f);
  std::vector<float> out(4 * d, NAN);
  kernels::QueryTile tile{q.data(), d, 4, 8, out.data(), d};  // positions 8..11
  kernels::AttendQueryTileAvx512(tile, {keys.data(), values.data(), meta.data(), 3, d, 0}, 0.1f);
  for (size_t c = 0; c < d; ++c) {
    EXPECT_EQ(out[0 * d + c], 0.0f);        // position 8: no slot yet
    EXPECT_EQ(out[1 * d + c], 0.0f);        // 9
    EXPECT_FLOAT_EQ(out[2 * d + c], 2.0f);  // 10: slot 10 only
    EXPECT_FLOAT_EQ(out[3 * d + c], 2.0f);  // 11: slots 10, 11 (equal values)
  }
}

}  // namespace
}  // namespace kvlab
