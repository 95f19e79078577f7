#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "kvlab/kv/cache.h"

namespace kvlab {
namespace {

KvCacheShape SmallShape() {
  KvCacheShape c;
  c.n_layers = 2;
  c.n_heads = 4;
  c.n_kv_heads = 2;
  c.head_dim = 2;
  return c;
}

TEST(KvCache, AppendKeepsPositionsAndKeepCompactsInOrder) {
  KvCache cache(SmallShape(), 6);
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

// Eviction moves whichever side is cheaper and appends recenter the live slots when they reach the end of
// the region: whatever the pattern, the cache must read exactly like a reference list of (pos, key).
// Drop(S) leaves what Keep(complement of S) leaves, whichever side of the holes it moves, and a Prefetch
// hint (in range or not) changes nothing.
TEST(KvCache, DropEqualsKeepOfTheComplement) {
  const KvCacheShape c = SmallShape();
  std::mt19937 rng(11);
  for (int trial = 0; trial < 300; ++trial) {
    KvCache dropped(c, 41), kept(c, 41);  // room for one append after a drop of nothing
    const int32_t n = 1 + static_cast<int32_t>(rng() % 40);
    for (int32_t p = 0; p < n; ++p) {
      std::vector<float> k = {1.f * p, 2.f * p, 3.f * p, 4.f * p}, v = {-1.f * p, -2.f * p, -3.f * p, -4.f * p};
      dropped.Append(0, k.data(), v.data(), 10 * p);
      kept.Append(0, k.data(), v.data(), 10 * p);
    }
    // Few drops near the front (the common eviction), few near the back, or scattered.
    std::vector<uint32_t> drop, keep;
    for (uint32_t i = 0; i < static_cast<uint32_t>(n); ++i) {
      const bool out = trial % 3 == 0   ? i == static_cast<uint32_t>(trial) % n
                       : trial % 3 == 1 ? i + 2 >= static_cast<uint32_t>(n) && rng() % 2 == 0
                                        : rng() % 3 == 0;
      (out ? drop : keep).push_back(i);
    }
    dropped.Prefetch(0, 1, 0, 1000);
    dropped.Prefetch(0, 1, 1000, 5);
    dropped.Drop(0, 1, drop);
    kept.Keep(0, 1, keep);
    ASSERT_EQ(dropped.Size(0, 1), keep.size());
    for (size_t i = 0; i < keep.size(); ++i) {
      ASSERT_EQ(dropped.Meta(0, 1)[i].pos, kept.Meta(0, 1)[i].pos) << "trial " << trial;
      ASSERT_EQ(dropped.Meta(0, 1)[i].pos, 10 * static_cast<int32_t>(keep[i]));
      for (size_t d = 0; d < 2; ++d) {
        ASSERT_EQ(dropped.Keys(0, 1)[i * 2 + d], kept.Keys(0, 1)[i * 2 + d]);
        ASSERT_EQ(dropped.Values(0, 1)[i * 2 + d], kept.Values(0, 1)[i * 2 + d]);
      }
    }
    ASSERT_EQ(dropped.Size(0, 0), static_cast<size_t>(n));  // the other head untouched
    // Appends after a drop land behind the survivors, as after a Keep.
    std::vector<float> k = {7, 7, 7, 7};
    dropped.Append(0, k.data(), k.data(), 10 * n);
    ASSERT_EQ(dropped.Meta(0, 1).back().pos, 10 * n);
    ASSERT_EQ(dropped.Keys(0, 1)[2 * keep.size()], 7.f);
  }
}

TEST(KvCache, RandomEvictionsAndAppendsMatchAReferenceList) {
  KvCacheShape c = SmallShape();
  KvCache cache(c, 12);
  std::mt19937 rng(3);
  std::vector<int32_t> ref;  // positions of layer 1, head 0, in slot order
  int32_t next = 0;
  for (int step = 0; step < 400; ++step) {
    while (cache.FreeSlots() > 0 && rng() % 3 != 0) {
      std::vector<float> k(4), v(4);
      for (size_t h = 0; h < 2; ++h) {
        k[h * 2] = static_cast<float>(next);
        k[h * 2 + 1] = static_cast<float>(h);
        v[h * 2] = -static_cast<float>(next);
        v[h * 2 + 1] = static_cast<float>(h);
      }
      cache.Append(1, k.data(), v.data(), next);
      ref.push_back(next++);
    }
    // Keep a random subset: sometimes only the newest (window-like), sometimes scattered.
    std::vector<uint32_t> keep;
    const size_t n = ref.size();
    for (uint32_t i = 0; i < n; ++i) {
      const bool keep_it = (step % 2 == 0) ? (i == 0 || i + 6 >= n) : (rng() % 2 == 0);
      if (keep_it) keep.push_back(i);
    }
    for (size_t h = 0; h < 2; ++h) cache.Keep(1, h, keep);
    std::vector<int32_t> kept;
    for (uint32_t i : keep) kept.push_back(ref[i]);
    ref = kept;
    for (size_t h = 0; h < 2; ++h) {
      ASSERT_EQ(cache.Size(1, h), ref.size());
      auto meta = cache.Meta(1, h);
      for (size_t i = 0; i < ref.size(); ++i) {
        ASSERT_EQ(meta[i].pos, ref[i]) << "step " << step;
        ASSERT_EQ(cache.Keys(1, h)[i * 2], static_cast<float>(ref[i]));
        ASSERT_EQ(cache.Keys(1, h)[i * 2 + 1], static_cast<float>(h));
        ASSERT_EQ(cache.Values(1, h)[i * 2], -static_cast<float>(ref[i]));
      }
    }
  }
}

}  // namespace
}  // namespace kvlab
