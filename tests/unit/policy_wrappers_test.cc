// Budget / schedule wrappers of ScorePolicy (kv/budgets.h) and RoPE re-rotation (kv/rerotate.h): spec
// syntax and errors, per-layer budgets, schedules, adaptive heads, and re-rotation exactness.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kvlab/kv/registry.h"
#include "kvlab/kv/score_policy.h"
#include "kvlab/model/config.h"
#include "kvlab/ops/rope.h"
#include "kvlab/util/error.h"

namespace kvlab {
namespace {

std::string ErrorOf(const std::string& spec, const ModelConfig* bind = nullptr) {
  try {
    auto p = MakePolicy(spec);
    if (bind != nullptr) p->Bind(bind->CacheShape());
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

ModelConfig Config(int32_t layers, int32_t kv_heads, int32_t head_dim, RopeStyle style) {
  ModelConfig c;
  c.n_layers = layers;
  c.n_heads = kv_heads * 2;
  c.n_kv_heads = kv_heads;
  c.head_dim = head_dim;
  c.dim = c.n_heads * head_dim;
  c.rope_style = style;
  c.rope_theta = 10000.0f;
  return c;
}

TEST(PolicyWrappers, SpecsRoundTrip) {
  for (const char* spec : {"h2o:budget=128,recent=32,layers=pyramid,beta=20",
                           "h2o:layers=256:192:128:64,sinks=4,recent=32",
                           "tova:budget=64,recent=8,heads=adaptive",
                           "knorm:budget=64,schedule=every-8",
                           "random:budget=64,recent=4,schedule=prefill,seed=0",
                           "sinks:budget=64,sinks=4,rerotate=true",
                           "window:budget=64,schedule=every-4,rerotate=true",
                           "snapkv:budget=64,recent=32,window=32,pool=7,every=0,layers=pyramid,beta=8,heads=adaptive",
                           "snapkv:layers=64:48,recent=8,window=8,pool=7,every=0",
                           "sketch:type=cms,width=512,depth=4,budget=128,recent=32,strategy=topk,topk=96,seed=0,"
                           "layers=pyramid,beta=20,rerotate=true"}) {
    auto p = MakePolicy(spec);
    EXPECT_EQ(p->Spec(), spec);
    EXPECT_EQ(MakePolicy(p->Spec())->Spec(), spec);
  }
  EXPECT_EQ(MakePolicy("h2o:budget=64,layers=uniform,heads=uniform,schedule=step,rerotate=false")->Spec(),
            "h2o:budget=64");
  EXPECT_EQ(MakePolicy("h2o:budget=128,recent=32,layers=pyramid")->Spec(),
            "h2o:budget=128,recent=32,layers=pyramid,beta=20");
}

TEST(PolicyWrappers, RejectsBadSpecsNamingTheOption) {
  const ModelConfig c = Config(4, 2, 8, RopeStyle::kInterleaved);
  // The list's length is checked against the model when the policy is bound.
  EXPECT_EQ(ErrorOf("h2o:layers=64:32:16", nullptr), "");
  const std::string len = ErrorOf("h2o:layers=64:32:16", &c);
  EXPECT_EQ(len.rfind("--kv: h2o: layers=", 0), 0u) << len;
  EXPECT_NE(len.find("3 budgets but the model has 4 layers"), std::string::npos) << len;
  EXPECT_NE(ErrorOf("h2o:layers=64:x:16").find("'x' is not a budget"), std::string::npos);
  EXPECT_NE(ErrorOf("h2o:layers=64::16").find("'' is not a budget"), std::string::npos);
  EXPECT_NE(ErrorOf("h2o:layers=64:4,recent=8").find("budget 4 < sinks (0) + recent (8)"), std::string::npos);
  EXPECT_NE(ErrorOf("h2o:budget=64,layers=64:32").find("not both"), std::string::npos);
  // Pyramid: the top layer gets (budget - recent - chunk) / beta scored slots, which must hold the sinks.
  const std::string top = ErrorOf("h2o:budget=40,recent=32,sinks=4,chunk=0,layers=pyramid,beta=4");
  EXPECT_NE(top.find("layers=pyramid: the top layer's budget 34 cannot hold sinks (4)"), std::string::npos) << top;
  EXPECT_EQ(ErrorOf("h2o:budget=48,recent=32,sinks=4,chunk=0,layers=pyramid,beta=4"), "");
  EXPECT_NE(ErrorOf("h2o:budget=64,layers=pyramid,beta=0").find("beta=0"), std::string::npos);
  EXPECT_NE(ErrorOf("h2o:budget=64,beta=4").find("unknown key 'beta'"), std::string::npos);  // pyramid only
  EXPECT_NE(ErrorOf("h2o:budget=64,heads=best").find("heads=best"), std::string::npos);
  // Schedules.
  EXPECT_NE(ErrorOf("h2o:budget=64,schedule=sometimes").find("schedule=sometimes is not a schedule"),
            std::string::npos);
  EXPECT_NE(ErrorOf("h2o:budget=64,schedule=every-0").find("schedule=every-0"), std::string::npos);
  EXPECT_NE(ErrorOf("h2o:budget=64,schedule=every-").find("schedule=every-"), std::string::npos);
  EXPECT_NE(ErrorOf("h2o:budget=64,rerotate=maybe").find("rerotate=maybe"), std::string::npos);
  // Where the budget is the recent window, per-layer / per-head budgets do not apply.
  EXPECT_NE(ErrorOf("sinks:budget=64,layers=pyramid").find("unknown key 'layers'"), std::string::npos);
  EXPECT_NE(ErrorOf("window:budget=64,heads=adaptive").find("unknown key 'heads'"), std::string::npos);
  EXPECT_NE(ErrorOf("cluster:budget=64,rerotate=true").find("unknown key 'rerotate'"), std::string::npos);
  EXPECT_NE(ErrorOf("sketch:budget=64,strategy=aggregate,schedule=prefill").find("unknown key 'schedule'"),
            std::string::npos);
  EXPECT_NE(ErrorOf("sketch:budget=64,layers=64:32").find("not supported with strategy=topk"), std::string::npos);
  // Re-rotation: RoPE models only, f32 keys, and the only evicting part.
  ModelConfig gpt2 = c;
  gpt2.arch = Arch::kGpt2;
  const std::string learned = ErrorOf("sinks:budget=64,rerotate=true", &gpt2);
  EXPECT_NE(learned.find("rerotate=true needs rotary position embeddings"), std::string::npos) << learned;
  EXPECT_EQ(ErrorOf("sinks:budget=64", &gpt2), "");
  EXPECT_NE(ErrorOf("h2o:budget=64,rerotate=true+window:budget=32").find("no other part may evict"),
            std::string::npos);
  EXPECT_NE(ErrorOf("cluster:budget=64+h2o:budget=32,rerotate=true").find("no other part may evict"),
            std::string::npos);
  EXPECT_NE(ErrorOf("h2o:budget=64,rerotate=true+quant:k=int8,v=int8").find("needs f32 keys"), std::string::npos);
  EXPECT_EQ(ErrorOf("h2o:budget=64,rerotate=true+full"), "");
}

TEST(PolicyWrappers, PyramidDecreasesLinearlyWithinTheUniformTotal) {
  auto p = MakePolicy("h2o:budget=128,sinks=4,recent=32,chunk=0,layers=pyramid");  // beta 20: scored share 96
  auto* sp = dynamic_cast<ScorePolicy*>(p.get());
  ASSERT_NE(sp, nullptr);
  EXPECT_EQ(p->MaxSlots(), 32u + 192 - 4);  // known before Bind: the bottom layer
  for (int32_t layers : {1, 2, 5, 12}) {
    p->Bind(Config(layers, 2, 8, RopeStyle::kInterleaved).CacheShape());
    size_t total = 0;
    for (int32_t l = 0; l < layers; ++l) {
      total += sp->HeadBound(l);
      if (l > 0) {
        EXPECT_LE(sp->HeadBound(l), sp->HeadBound(l - 1));
      }
    }
    EXPECT_LE(total, 128u * layers);
    EXPECT_GE(total + layers, 128u * layers);  // rounding loses less than a slot per layer
    if (layers > 1) {
      EXPECT_EQ(sp->HeadBound(0), 32u + 192 - 4);
      EXPECT_EQ(sp->HeadBound(layers - 1), 32u + 4);  // recent + 96 / 20
      EXPECT_EQ(p->MaxSlots(), sp->HeadBound(0));
    }
  }
  auto list = MakePolicy("h2o:layers=16:64:32,recent=4");
  list->Bind(Config(3, 1, 8, RopeStyle::kInterleaved).CacheShape());
  EXPECT_EQ(list->MaxSlots(), 64u);
  EXPECT_EQ(dynamic_cast<ScorePolicy*>(list.get())->HeadBound(0), 16u);
}

// Appends one token to every head of every layer: key = RoPE(pos) of a random raw key (kept in raw).
void AppendToken(KvCache& cache, const ModelConfig& c, int32_t pos, std::vector<float>& raw, std::mt19937& rng,
                 float norm_scale = 1.0f) {
  const size_t d = static_cast<size_t>(c.head_dim), kv = static_cast<size_t>(c.n_kv_heads);
  std::normal_distribution<float> n(0.0f, 1.0f);
  std::vector<float> k(kv * d), v(kv * d);
  for (size_t h = 0; h < kv; ++h) {
    for (size_t i = 0; i < d; ++i) k[h * d + i] = n(rng) * (h == 0 ? norm_scale : 1.0f);
  }
  for (float& x : v) x = n(rng);
  raw.insert(raw.end(), k.begin(), k.end());  // [pos][kv][d]
  RopeAngles a;
  a.Compute(pos, c.head_dim, c.rope_theta);
  ApplyRope(k.data(), kv, d, c.rope_style, a);
  for (size_t l = 0; l < cache.n_layers(); ++l) cache.Append(l, k.data(), v.data(), pos);
}

TEST(Rerotate, ShiftingARotatedKeyEqualsRotatingTheRawKeyThere) {
  std::mt19937 rng(3);
  std::normal_distribution<float> n(0.0f, 1.0f);
  for (RopeStyle style : {RopeStyle::kInterleaved, RopeStyle::kHalf}) {
    for (int32_t p : {0, 7, 511, 4000, 100000}) {
      for (int32_t d : {1, 5, 64, 2048, -3}) {
        std::vector<float> raw(2 * 64), shifted, direct;
        for (float& x : raw) x = n(rng);
        RopeAngles a, scratch;
        shifted = raw;
        a.Compute(p, 64, 10000.0f);
        ApplyRope(shifted.data(), 2, 64, style, a);
        ShiftRope(shifted.data(), 2, 64, style, d, ComputeRopeFrequencies({}, 10000.0f, 64, 0), scratch);
        direct = raw;
        a.Compute(p + d, 64, 10000.0f);
        ApplyRope(direct.data(), 2, 64, style, a);
        for (size_t i = 0; i < raw.size(); ++i) ASSERT_NEAR(shifted[i], direct[i], 1e-5) << p << " + " << d;
      }
    }
  }
}

// After every eviction slot i of a head with n slots holds RoPE(P - n + i) of its raw key, P the next
// position: cache-relative distances, whatever was evicted (random evictions, different sizes per head).
TEST(Rerotate, KeptKeysSitAtCacheRelativePositions) {
  for (const char* spec : {"sinks:budget=12,sinks=3,rerotate=true", "sinks:budget=12,sinks=3,chunk=4,rerotate=true",
                           "random:budget=12,sinks=2,recent=3,seed=4,rerotate=true",
                           "random:budget=10,sinks=2,recent=2,seed=5,heads=adaptive,rerotate=true",
                           "knorm:budget=10,recent=2,layers=pyramid,beta=2,heads=adaptive,rerotate=true,schedule=every-3"}) {
    for (RopeStyle style : {RopeStyle::kInterleaved, RopeStyle::kHalf}) {
      const ModelConfig c = Config(2, 3, 16, style);
      auto policy = MakePolicy(spec);
      policy->Bind(c.CacheShape());
      KvCache cache(c.CacheShape(), RequiredCapacity(policy.get(), 0, 1));
      std::mt19937 rng(11);
      std::vector<float> raw;
      bool different_sizes = false;
      const int32_t total = 300;
      for (int32_t pos = 0; pos < total; ++pos) {
        AppendToken(cache, c, pos, raw, rng, pos % 7 == 0 ? 0.1f : 1.0f);
        for (size_t l = 0; l < cache.n_layers(); ++l) policy->Compress(l, cache);
      }
      const size_t d = 16, kv = 3;
      RopeAngles a;
      for (size_t l = 0; l < cache.n_layers(); ++l) {
        for (size_t h = 0; h < kv; ++h) {
          const size_t n = cache.Size(l, h);
          different_sizes |= n != cache.Size(l, 0);
          auto meta = cache.Meta(l, h);
          for (size_t i = 0; i < n; ++i) {
            std::vector<float> want(raw.begin() + (meta[i].pos * kv + h) * d, raw.begin() + (meta[i].pos * kv + h + 1) * d);
            a.Compute(total - static_cast<int32_t>(n) + static_cast<int32_t>(i), 16, c.rope_theta);
            ApplyRope(want.data(), 1, d, style, a);
            for (size_t j = 0; j < d; ++j) {
              ASSERT_NEAR(cache.Keys(l, h)[i * d + j], want[j], 1e-4) << spec << " layer " << l << " head " << h
                                                                    << " slot " << i << " pos " << meta[i].pos;
            }
          }
        }
      }
      if (std::string(spec).find("adaptive") != std::string::npos) {
        EXPECT_TRUE(different_sizes) << spec;
      }
    }
  }
}

TEST(PolicyWrappers, SchedulesDecideWhenEvictionRuns) {
  const ModelConfig c = Config(1, 1, 4, RopeStyle::kInterleaved);
  std::mt19937 rng(1);
  std::vector<float> raw;
  {  // every-4: the cache grows to budget + 3, then drops to the budget.
    auto p = MakePolicy("knorm:budget=8,chunk=0,schedule=every-4");
    p->Bind(c.CacheShape());
    EXPECT_EQ(p->MaxSlots(), 11u);
    KvCache cache(c.CacheShape(), RequiredCapacity(p.get(), 0, 1));
    std::vector<size_t> sizes;
    for (int32_t pos = 0; pos < 24; ++pos) {
      AppendToken(cache, c, pos, raw, rng);
      p->Compress(0, cache);
      sizes.push_back(cache.Size(0, 0));
      ASSERT_LE(cache.Size(0, 0), 11u);
    }
    // Runs at positions 3, 7, 11, ...: 9 tokens at position 8 stay until the run at 11.
    EXPECT_EQ(sizes[8], 9u);
    EXPECT_EQ(sizes[10], 11u);
    EXPECT_EQ(sizes[11], 8u);
  }
  {  // prefill: a multi-token chunk is compressed, single tokens are not.
    auto p = MakePolicy("knorm:budget=8,chunk=0,schedule=prefill");
    p->Bind(c.CacheShape());
    EXPECT_EQ(p->MaxSlots(), KvPolicy::kUnbounded);
    KvCache cache(c.CacheShape(), 64);
    raw.clear();
    for (int32_t pos = 0; pos < 20; ++pos) AppendToken(cache, c, pos, raw, rng);
    p->Compress(0, cache);
    EXPECT_EQ(cache.Size(0, 0), 8u);
    for (int32_t pos = 20; pos < 25; ++pos) {
      AppendToken(cache, c, pos, raw, rng);
      p->Compress(0, cache);
    }
    EXPECT_EQ(cache.Size(0, 0), 13u);
  }
}

TEST(PolicyWrappers, AdaptiveHeadsShareTheLayerBudgetByJointScores) {
  // knorm keeps low-norm keys; head 0's keys are ten times shorter, so it wins most of the shared budget.
  const ModelConfig c = Config(1, 2, 8, RopeStyle::kInterleaved);
  auto p = MakePolicy("knorm:budget=10,recent=2,chunk=0,heads=adaptive");
  p->Bind(c.CacheShape());
  EXPECT_EQ(p->MaxSlots(), 2u * 10 - 2);  // the other head keeps at least its recent window
  KvCache cache(c.CacheShape(), RequiredCapacity(p.get(), 0, 1));
  std::mt19937 rng(2);
  std::vector<float> raw;
  for (int32_t pos = 0; pos < 50; ++pos) {
    AppendToken(cache, c, pos, raw, rng, 0.1f);
    p->Compress(0, cache);
    ASSERT_LE(cache.Size(0, 0) + cache.Size(0, 1), 20u);
  }
  EXPECT_EQ(cache.Size(0, 0) + cache.Size(0, 1), 20u);
  EXPECT_EQ(cache.Size(0, 0), 18u);
  EXPECT_EQ(cache.Size(0, 1), 2u);
}

}  // namespace
}  // namespace kvlab
