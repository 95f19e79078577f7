#include <gtest/gtest.h>

#include <vector>

#include "kvlab/kv/cache.h"

namespace kvlab {
namespace {

ModelConfig SmallConfig() {
  ModelConfig c;
  c.dim = 8;
  c.n_layers = 2;
  c.n_heads = 4;
  c.n_kv_heads = 2;
  c.head_dim = 2;
  return c;
}

TEST(KvCache, AppendKeepsPositionsAndKeepCompactsInOrder) {
  KvCache cache(SmallConfig(), 6);
  for (int32_t p = 0; p < 5; ++p) {
    // [kv_heads][head_dim]: head h, dim d holds 100*p + 10*h + d
    std::vector<float> k = {100.f * p, 100.f * p + 1, 100.f * p + 10, 100.f * p + 11};
    std::vector<float> v(k);
    for (float& x : v) x = -x;
    cache.Append(0, k.data(), v.data(), p);
  }
  EXPECT_EQ(cache.Size(0, 0), 5u);
  EXPECT_EQ(cache.Size(1, 0), 0u);
  EXPECT_EQ(cache.FreeSlots(), 1u);
  const std::vector<uint32_t> keep = {0, 3, 4};
  cache.Keep(0, 1, keep);
  EXPECT_EQ(cache.Size(0, 1), 3u);
  EXPECT_EQ(cache.Size(0, 0), 5u);  // other heads untouched
  auto meta = cache.Meta(0, 1);
  EXPECT_EQ(meta[0].pos, 0);
  EXPECT_EQ(meta[1].pos, 3);
  EXPECT_EQ(meta[2].pos, 4);
  EXPECT_FLOAT_EQ(cache.Keys(0, 1)[2], 310.f);
  EXPECT_FLOAT_EQ(cache.Values(0, 1)[5], -411.f);
  // Exact bytes: live slots x (K + V floats + metadata).
  EXPECT_EQ(cache.Bytes(), (5u + 3u) * (2 * 2 * sizeof(float) + sizeof(SlotMeta)));
  cache.Clear();
  EXPECT_EQ(cache.TotalSlots(), 0u);
  EXPECT_EQ(cache.Bytes(), 0u);
}

}  // namespace
}  // namespace kvlab
