// Summary slots: KvCache::Merge, the log(count) logit in attention, and the cluster / sketch / snapkv
// policies on hand-built caches (the real-model runs are in tests/golden/policy_property_test.cc).
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kvlab/kv/cache.h"
#include "kvlab/kv/registry.h"
#include "kvlab/ops/attention.h"
#include "kvlab/sketch/count_min.h"
#include "kvlab/sketch/count_sketch.h"
#include "kvlab/sketch/race.h"

namespace kvlab {
namespace {

KvCacheShape OneHeadShape(size_t head_dim) {
  KvCacheShape c;
  c.n_layers = 1;
  c.n_heads = 1;
  c.n_kv_heads = 1;
  c.head_dim = head_dim;
  return c;
}

TEST(KvCacheMerge, IsTheCountWeightedMeanAndKeepsThePosition) {
  KvCache cache(OneHeadShape(2), 4);
  const float k0[] = {1, 2}, v0[] = {10, 20}, k1[] = {3, 6}, v1[] = {30, 60}, k2[] = {7, 7}, v2[] = {0, 0};
  cache.Append(0, k0, v0, 0);
  cache.Append(0, k1, v1, 1);
  cache.Append(0, k2, v2, 2);
  cache.Merge(0, 0, 0, 1);  // slot 0 = mean of tokens 0 and 1
  EXPECT_EQ(cache.Meta(0, 0)[0].pos, 0);
  EXPECT_EQ(cache.Meta(0, 0)[0].count, 2u);
  EXPECT_FLOAT_EQ(cache.Keys(0, 0)[0], 2.0f);
  EXPECT_FLOAT_EQ(cache.Keys(0, 0)[1], 4.0f);
  EXPECT_FLOAT_EQ(cache.Values(0, 0)[1], 40.0f);
  cache.Merge(0, 0, 0, 2);  // weights 2:1
  EXPECT_EQ(cache.Meta(0, 0)[0].count, 3u);
  EXPECT_FLOAT_EQ(cache.Keys(0, 0)[0], (2.0f * 2 + 7) / 3);
  EXPECT_FLOAT_EQ(cache.Values(0, 0)[0], (20.0f * 2 + 0) / 3);
  const std::vector<uint32_t> keep = {0};
  cache.Keep(0, 0, keep);
  EXPECT_EQ(cache.Size(0, 0), 1u);
  EXPECT_EQ(cache.Meta(0, 0)[0].count, 3u);  // Keep carries the count
}

TEST(Attention, SummarySlotGetsLogCountAddedToItsLogit) {
  // Hand-computed: two slots, q·k = [1, 0], scale 1, slot 1 stands for 3 tokens.
  // logits = [1, 0 + ln 3] -> p = [e, 3] / (e + 3).
  const float q[] = {1, 0}, keys[] = {1, 0, 0, 1}, values[] = {1, 0, 0, 1};
  std::vector<SlotMeta> meta = {{0, 1}, {1, 3}};
  float scores[2], out[2];
  AttendHead(q, keys, values, meta, 2, 1.0f, 5, scores, out);
  const double e = std::exp(1.0);
  EXPECT_NEAR(scores[0], e / (e + 3), 1e-6);
  EXPECT_NEAR(scores[1], 3 / (e + 3), 1e-6);
  EXPECT_NEAR(out[0], e / (e + 3), 1e-6);
  EXPECT_NEAR(out[1], 3 / (e + 3), 1e-6);
}

TEST(Attention, SummarySlotEqualsItsMembersWhenTheyAreIdentical) {
  // A slot with count c and key k must attend exactly like c copies of (k, v).
  std::mt19937 rng(3);
  std::normal_distribution<float> d;
  const size_t hd = 8;
  std::vector<float> q(hd), k(3 * hd), v(3 * hd);
  for (float& x : q) x = d(rng);
  for (float& x : k) x = d(rng);
  for (float& x : v) x = d(rng);
  // Expanded: slot 1 repeated 4 times.
  std::vector<float> ke, ve;
  std::vector<SlotMeta> me;
  for (int j : {0, 1, 1, 1, 1, 2}) {
    ke.insert(ke.end(), k.begin() + j * hd, k.begin() + (j + 1) * hd);
    ve.insert(ve.end(), v.begin() + j * hd, v.begin() + (j + 1) * hd);
    me.push_back({static_cast<int32_t>(me.size()), 1});
  }
  std::vector<SlotMeta> ms = {{0, 1}, {1, 4}, {5, 1}};
  std::vector<float> se(6), ss(3), oe(hd), os(hd);
  AttendHead(q.data(), ke.data(), ve.data(), me, hd, 0.35f, 10, se.data(), oe.data());
  AttendHead(q.data(), k.data(), v.data(), ms, hd, 0.35f, 10, ss.data(), os.data());
  for (size_t i = 0; i < hd; ++i) EXPECT_NEAR(os[i], oe[i], 1e-5);
  EXPECT_NEAR(ss[1], se[1] + se[2] + se[3] + se[4], 1e-6);
}

// Feeds a one-head cache token by token, compressing after each, with a fixed attention row pattern.
void RunStream(KvPolicy& policy, KvCache& cache, int tokens, std::mt19937& rng) {
  std::normal_distribution<float> d;
  const size_t hd = cache.head_dim();
  std::vector<float> k(hd), v(hd), q(hd), probs(cache.capacity());
  for (int32_t p = 0; p < tokens; ++p) {
    for (float& x : k) x = d(rng);
    for (float& x : v) x = d(rng);
    for (float& x : q) x = d(rng);
    cache.Append(0, k.data(), v.data(), p);
    if (policy.WantsAttention()) {
      auto meta = cache.Meta(0, 0);
      // Attention concentrated on positions divisible by 5 (the "heavy hitters").
      double z = 0;
      for (size_t i = 0; i < meta.size(); ++i) z += probs[i] = meta[i].pos % 5 == 0 ? 10.0f : 1.0f;
      for (size_t i = 0; i < meta.size(); ++i) probs[i] = static_cast<float>(probs[i] / z);
      policy.Observe(AttentionRow{0, 0, 0, p, {probs.data(), meta.size()}, meta, q.data()});
    }
    policy.Compress(0, cache);
    ASSERT_LE(cache.Size(0, 0), policy.MaxSlots());
  }
}

TEST(ClusterPolicy, KeepsSinksAndRecentExactAndCountsEveryToken) {
  for (const char* spec : {"cluster:budget=16,sinks=2,summaries=4", "cluster:budget=16,sinks=2,summaries=4,assign=lsh",
                           "cluster:budget=16,sinks=2,summaries=4,metric=l2,chunk=3"}) {
    auto policy = MakePolicy(spec);
    const KvCacheShape c = OneHeadShape(8);
    policy->Bind(c);
    KvCache cache(c, RequiredCapacity(policy.get(), 1000, 1));
    std::mt19937 rng(1);
    RunStream(*policy, cache, 100, rng);
    auto meta = cache.Meta(0, 0);
    uint64_t total = 0;
    size_t summaries = 0;
    for (const SlotMeta& m : meta) {
      total += m.count;
      summaries += m.count > 1;
    }
    EXPECT_EQ(total, 100u) << spec;
    EXPECT_LE(summaries, 4u) << spec;
    EXPECT_GE(summaries, 1u) << spec;
    EXPECT_EQ(meta[0].pos, 0) << spec;
    EXPECT_EQ(meta[1].pos, 1) << spec;
    EXPECT_EQ(meta.back().pos, 99) << spec;
    EXPECT_EQ(meta.back().count, 1u) << spec;
    for (size_t i = 1; i < meta.size(); ++i) EXPECT_LT(meta[i - 1].pos, meta[i].pos) << spec;
  }
}

TEST(SketchPolicy, MetadataIsExactlyTheSketchesAndHeavyHittersSurvive) {
  const KvCacheShape c = OneHeadShape(8);
  struct Case {
    const char* spec;
    size_t bytes;
  };
  const Case cases[] = {
      {"sketch:type=cms,width=64,depth=3,budget=16,sinks=1,recent=4", CountMinSketch(64, 3, 0).Bytes()},
      {"sketch:type=cms,width=64,depth=3,conservative=true,budget=16,recent=4,topk=6",
       CountMinSketch(64, 3, 0, true).Bytes()},
      {"sketch:type=cs,width=64,depth=3,budget=16,recent=4", CountSketch(64, 3, 0).Bytes()},
      {"sketch:type=race,width=16,depth=2,budget=16,recent=4", RaceSketch(16, 2, 8, 4, 0).Bytes()},
  };
  for (const Case& tc : cases) {
    auto policy = MakePolicy(tc.spec);
    policy->Bind(c);
    EXPECT_EQ(policy->MetadataBytes(), tc.bytes) << tc.spec;
    KvCache cache(c, RequiredCapacity(policy.get(), 1000, 1));
    std::mt19937 rng(2);
    RunStream(*policy, cache, 120, rng);
    EXPECT_EQ(policy->MetadataBytes(), tc.bytes) << tc.spec;  // fixed memory, however long the stream
    if (std::string(tc.spec).find("race") != std::string::npos) continue;  // race scores keys, not positions
    // Past the first tokens (which drew much attention while the cache was small: H2O's known early bias)
    // and before the newest ones, the survivors are the heavy positions (multiples of 5).
    auto meta = cache.Meta(0, 0);
    size_t heavy = 0, old = 0;
    std::string kept;
    for (const SlotMeta& m : meta) {
      kept += std::to_string(m.pos) + " ";
      if (m.pos < 10 || m.pos >= 100) continue;
      ++old;
      heavy += m.pos % 5 == 0;
    }
    EXPECT_GE(old, 3u) << tc.spec << ": " << kept;
    EXPECT_EQ(heavy, old) << tc.spec << ": " << heavy << " of " << old << ": " << kept;
  }
}

TEST(SketchPolicy, TopkEvictsDownToSinksRecentTopk) {
  auto policy = MakePolicy("sketch:type=cms,width=64,depth=3,budget=20,sinks=2,recent=4,topk=6");
  const KvCacheShape c = OneHeadShape(8);
  policy->Bind(c);
  KvCache cache(c, RequiredCapacity(policy.get(), 1000, 1));
  std::mt19937 rng(4);
  RunStream(*policy, cache, 21, rng);  // the 21st token overflows the budget once
  EXPECT_EQ(cache.Size(0, 0), 12u);
}

TEST(SnapKvPolicy, KeepsTheNeighboursOfVotedTokens) {
  // One chunk of 40 tokens whose window queries attend position 10 only: pool=5 keeps 8..12.
  auto policy = MakePolicy("snapkv:budget=9,recent=4,chunk=0,window=4,pool=5");
  const KvCacheShape c = OneHeadShape(4);
  policy->Bind(c);
  KvCache cache(c, 64);
  std::vector<float> kv(4, 0.5f), q(4, 1.0f), probs(40);
  for (int32_t p = 0; p < 40; ++p) cache.Append(0, kv.data(), kv.data(), p);
  auto meta = cache.Meta(0, 0);
  for (int32_t p = 0; p < 40; ++p) {
    std::fill(probs.begin(), probs.end(), 0.0f);
    probs[p < 10 ? p : 10] = 1.0f;
    policy->Observe(AttentionRow{0, 0, 0, p, {probs.data(), 40}, meta, q.data()});
  }
  policy->Compress(0, cache);
  std::vector<int32_t> kept;
  for (const SlotMeta& m : cache.Meta(0, 0)) kept.push_back(m.pos);
  EXPECT_EQ(kept, (std::vector<int32_t>{8, 9, 10, 11, 12, 36, 37, 38, 39}));
}

}  // namespace
}  // namespace kvlab
