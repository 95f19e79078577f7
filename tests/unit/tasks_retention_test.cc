// Needle retention (tasks/needle_retention.h): held, merged and evicted needle tokens per (layer, kv head),
// on caches shaped by hand with Keep and Merge, plain and quantized; and FrozenPolicy.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "kvlab/kv/cache.h"
#include "kvlab/kv/registry.h"
#include "kvlab/tasks/frozen_policy.h"
#include "kvlab/tasks/needle_retention.h"

namespace kvlab {
namespace {

KvCacheShape Shape() {
  KvCacheShape s;
  s.n_layers = 2;
  s.n_heads = 2;
  s.n_kv_heads = 2;
  s.head_dim = 32;
  return s;
}

// Appends tokens 0..n-1 to every layer; token p's key and value are all (p + 1).
void Fill(KvCache& cache, int n) {
  const size_t width = cache.n_kv_heads() * cache.head_dim();
  for (int p = 0; p < n; ++p) {
    const std::vector<float> kv(width, static_cast<float>(p + 1));
    for (size_t l = 0; l < cache.n_layers(); ++l) cache.Append(l, kv.data(), kv.data(), p);
  }
}

// Keeps every slot of (layer, head) but those at `drop` positions.
void Drop(KvCache& cache, size_t layer, size_t head, std::vector<int32_t> drop) {
  std::vector<uint32_t> keep;
  const auto meta = cache.Meta(layer, head);
  for (uint32_t i = 0; i < meta.size(); ++i)
    if (std::find(drop.begin(), drop.end(), meta[i].pos) == drop.end()) keep.push_back(i);
  cache.Keep(layer, head, keep);
}

uint32_t SlotOf(const KvCache& cache, size_t layer, size_t head, int32_t pos) {
  const auto meta = cache.Meta(layer, head);
  for (uint32_t i = 0; i < meta.size(); ++i)
    if (meta[i].pos == pos) return i;
  ADD_FAILURE() << "no slot at position " << pos;
  return 0;
}

TEST(TaskRetention, FullCacheHoldsEveryNeedleToken) {
  KvCache cache(Shape(), 16);
  Fill(cache, 10);
  const NeedleRetention r = MeasureNeedleRetention(cache, {{3, 6}}, nullptr);
  EXPECT_EQ(r.needle_tokens, 3);
  EXPECT_DOUBLE_EQ(r.held, 1.0);
  EXPECT_DOUBLE_EQ(r.merged, 0.0);
  ASSERT_EQ(r.held_by_head.size(), 2u);
  EXPECT_DOUBLE_EQ(r.held_by_head[1][1], 1.0);
}

TEST(TaskRetention, EvictionCountsPerHeadAndLayer) {
  KvCache cache(Shape(), 16);
  Fill(cache, 10);
  Drop(cache, 0, 0, {3});        // layer 0 head 0 loses one of three needle tokens
  Drop(cache, 1, 1, {3, 4, 5});  // layer 1 head 1 loses all of them
  Drop(cache, 1, 0, {0, 1, 2});  // not needle tokens
  const NeedleRetention r = MeasureNeedleRetention(cache, {{3, 6}}, nullptr);
  EXPECT_NEAR(r.held_by_head[0][0], 2.0 / 3, 1e-12);
  EXPECT_DOUBLE_EQ(r.held_by_head[0][1], 1.0);
  EXPECT_DOUBLE_EQ(r.held_by_head[1][0], 1.0);
  EXPECT_DOUBLE_EQ(r.held_by_head[1][1], 0.0);
  EXPECT_NEAR(r.held_by_layer[0], 5.0 / 6, 1e-12);
  EXPECT_NEAR(r.held_by_layer[1], 0.5, 1e-12);
  EXPECT_NEAR(r.held, (5.0 / 6 + 0.5) / 2, 1e-12);
}

TEST(TaskRetention, MergedTokensFollowTheirSummaryUntilItIsEvicted) {
  KvCache cache(Shape(), 16);
  MergeTracker tracker(2, 2);
  cache.SetMergeObserver(&tracker);
  Fill(cache, 10);
  // Layer 0 head 0: token 4 folds into 2, then 2's summary into 1; token 3 founds a summary of 6.
  cache.Merge(0, 0, SlotOf(cache, 0, 0, 2), SlotOf(cache, 0, 0, 4));
  Drop(cache, 0, 0, {4});
  cache.Merge(0, 0, SlotOf(cache, 0, 0, 1), SlotOf(cache, 0, 0, 2));
  Drop(cache, 0, 0, {2});
  cache.Merge(0, 0, SlotOf(cache, 0, 0, 3), SlotOf(cache, 0, 0, 6));
  Drop(cache, 0, 0, {6});
  EXPECT_EQ(tracker.Root(0, 0, 4), 1);
  EXPECT_EQ(tracker.Root(0, 0, 6), 3);
  EXPECT_EQ(tracker.Root(0, 1, 4), 4);  // another head saw no merge
  NeedleRetention r = MeasureNeedleRetention(cache, {{3, 6}}, &tracker);
  // Needle tokens 3 (a summary founder), 4 (inside 1's summary): merged; 5: held.
  EXPECT_NEAR(r.held_by_head[0][0], 1.0 / 3, 1e-12);
  EXPECT_NEAR(r.merged_by_layer[0], (2.0 / 3) / 2, 1e-12);
  EXPECT_NEAR(r.held + r.merged, 1.0, 1e-12);  // nothing was evicted
  // Without the tracker only founders are known to be merged: token 4 looks evicted.
  r = MeasureNeedleRetention(cache, {{3, 6}}, nullptr);
  EXPECT_NEAR(r.merged_by_layer[0], (1.0 / 3) / 2, 1e-12);
  // Evicting the summary at 1 takes token 4 with it.
  Drop(cache, 0, 0, {1});
  r = MeasureNeedleRetention(cache, {{3, 6}}, &tracker);
  EXPECT_NEAR(r.merged_by_layer[0], (1.0 / 3) / 2, 1e-12);
  EXPECT_NEAR(r.held_by_head[0][0], 1.0 / 3, 1e-12);
  EXPECT_NEAR(r.held + r.merged, 1.0 - (1.0 / 3) / 4, 1e-12);
}

TEST(TaskRetention, QuantizedSlotsCountAsHeld) {
  KvCodec codec;
  codec.k = codec.v = CodecType::kInt4;
  codec.residual = 2;
  KvCache cache(Shape(), 16, codec);
  Fill(cache, 10);
  ASSERT_GT(cache.QuantizedSlots(0, 0), 5u);  // the needle tokens are encoded
  const NeedleRetention r = MeasureNeedleRetention(cache, {{3, 6}}, nullptr);
  EXPECT_DOUBLE_EQ(r.held, 1.0);
}

TEST(TaskRetention, NoSpansMeasureNothing) {
  KvCache cache(Shape(), 16);
  Fill(cache, 4);
  const NeedleRetention r = MeasureNeedleRetention(cache, {}, nullptr);
  EXPECT_EQ(r.needle_tokens, 0);
  EXPECT_DOUBLE_EQ(r.held, 0.0);
}

TEST(TaskFrozenPolicy, KeepsCodecAndStateButNeverEvicts) {
  std::unique_ptr<KvPolicy> h2o = MakePolicy("h2o:budget=8,recent=2+quant:k=int8,v=int8");
  h2o->Bind(Shape());
  const KvCodec codec = h2o->Codec();
  const size_t metadata = h2o->MetadataBytes();
  FrozenPolicy frozen(std::move(h2o));
  EXPECT_EQ(frozen.MaxSlots(), KvPolicy::kUnbounded);
  EXPECT_FALSE(frozen.WantsAttention());
  EXPECT_EQ(frozen.Codec(), codec);
  EXPECT_EQ(frozen.MetadataBytes(), metadata);
  KvCache cache(Shape(), 32, codec);
  Fill(cache, 20);
  frozen.Compress(0, cache);
  EXPECT_EQ(cache.Size(0, 0), 20u);
  EXPECT_EQ(frozen.Clone()->MaxSlots(), KvPolicy::kUnbounded);
}

}  // namespace
}  // namespace kvlab
