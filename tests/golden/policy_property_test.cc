// The policy property matrix: every registered policy (alone, with chunked eviction, and composed) runs a
// stream on the real models in ../shared, on random-weight models and on a Gemma-3-shaped model with
// sliding-window layers, and after every forward call:
//   - no head holds more slots than the policy's bound, and sliding-window layers no more than the window
//     (only positions the next query can see);
//   - sinks and the recent window are still there;
//   - positions are unique and ascending in every head;
//   - Bytes() is exactly what the live slots hold, and the policy's metadata is accounted;
//   - Clone() continues the stream identically;
// and `full` is bit-identical to running without a policy.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "kvlab/kv/policies/summary_policy.h"
#include "kvlab/kv/registry.h"
#include "kvlab/kv/score_policy.h"
#include "kvlab/model/model.h"
#include "kvlab/model/presets.h"
#include "kvlab/model/random_model.h"
#include "kvlab/util/error.h"
#include "test_assets.h"

namespace kvlab {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string>& Specs() {
  static const std::vector<std::string> specs = {
      "full",
      "window:budget=24",
      "window:budget=24,chunk=8",
      "sinks:budget=24,sinks=4",
      "random:budget=24,recent=4,sinks=2,seed=1",
      "knorm:budget=24,recent=4,sinks=2",
      "h2o:budget=24,recent=8",
      "h2o:budget=24,recent=8,sinks=2,chunk=4",
      "tova:budget=24,recent=4",
      "h2o:budget=32,recent=8+window:budget=24",
      "snapkv:budget=24,recent=8,window=8,pool=3",
      "snapkv:budget=24,sinks=2,recent=4,window=4,pool=5,every=4,chunk=2",
      "sketch:type=cms,width=64,depth=3,budget=24,sinks=2,recent=8",
      "sketch:type=cms,width=64,depth=3,conservative=true,budget=24,recent=8,topk=8,decay=0.95",
      "sketch:type=cs,width=64,depth=3,budget=24,recent=8,sinks=2",
      "sketch:type=race,width=16,depth=2,budget=24,recent=8,topk=10",
      "sketch:type=cms,width=64,depth=3,budget=24,sinks=2,recent=8,strategy=aggregate,summaries=6",
      "sketch:type=race,width=16,depth=2,budget=24,recent=8,strategy=aggregate,summaries=4,assign=lsh,chunk=2",
      "sketch:type=cs,width=32,depth=3,budget=24,recent=4,strategy=aggregate,summaries=8,metric=l2,decay=0.9",
      "cluster:budget=24,sinks=2,summaries=6",
      "cluster:budget=24,sinks=0,summaries=5,assign=lsh,seed=3",
      "cluster:budget=24,summaries=4,metric=l2,chunk=4",
      "cluster:budget=32,summaries=6+h2o:budget=24,recent=8",
      "h2o:budget=32,recent=8+sketch:budget=24,recent=8,strategy=aggregate,summaries=4",
      // Codecs (kv/codec.h): alone, and after every kind of eviction (score, position, sketch, summaries).
      "quant:k=int8,v=int8",
      "quant:k=int4,v=int4,group=4,residual=8",
      "quant:k=int2,v=int2,group=2,residual=3",
      "quant:k=f16,v=bf16,residual=5",
      "quant:k=int4,v=f32,group=3",
      "h2o:budget=24,recent=8+quant:k=int4,v=int4,group=4,residual=6",
      "sinks:budget=24,sinks=4+quant:k=int8,v=int4,group=8,residual=4",
      "window:budget=24,chunk=8+quant:k=int2,v=int2,group=4",
      "knorm:budget=24,recent=4,sinks=2+quant:k=int4,v=int4,group=4,residual=2",
      "snapkv:budget=24,recent=8,window=8,pool=3+quant:k=int8,v=int8,residual=4",
      "sketch:type=cms,width=64,depth=3,budget=24,sinks=2,recent=8+quant:k=int4,v=int4,group=4,residual=8",
      "sketch:type=race,width=16,depth=2,budget=24,recent=8,topk=10+quant:k=int8,v=int8,group=4",
      "cluster:budget=24,sinks=2,summaries=6+quant:k=int4,v=int4,group=4,residual=4",
      // KIVI per-channel keys: blocks of `group` tokens, thinned by eviction, merged into summaries.
      "quant:k=int8,v=int4,group=8,residual=8,kaxis=channel",
      "h2o:budget=24,recent=8+quant:k=int4,v=int8,group=4,residual=8,kaxis=channel",
      "cluster:budget=24,sinks=2,summaries=6+quant:k=int2,v=int2,group=4,residual=4,kaxis=channel",
      // Budget and schedule wrappers (kv/budgets.h) and re-rotation (kv/rerotate.h).
      "h2o:budget=24,recent=4,sinks=2,layers=pyramid,beta=4",
      "tova:budget=24,recent=4,heads=adaptive",
      "h2o:budget=24,recent=4,sinks=2,layers=pyramid,beta=3,heads=adaptive,chunk=2",
      "snapkv:budget=24,recent=4,window=4,pool=3,layers=pyramid,beta=2",
      "knorm:budget=24,recent=4,schedule=every-5",
      "h2o:budget=24,recent=8,schedule=prefill",
      "random:budget=24,recent=4,sinks=2,seed=2,heads=adaptive,schedule=every-3",
      "sketch:type=cms,width=64,depth=3,budget=24,sinks=2,recent=8,layers=pyramid,beta=4",
      "sinks:budget=24,sinks=4,rerotate=true",
      "sinks:budget=24,sinks=4,chunk=6,rerotate=true,schedule=every-2",
      "h2o:budget=24,recent=4,sinks=2,rerotate=true,layers=pyramid,beta=4,heads=adaptive",
      "window:budget=24,rerotate=true+full",
      // Budgets that follow the stream (ratio=R), with and without a cap, chunk and wrapper keys.
      "h2o:ratio=0.3,recent=4,sinks=2",
      "tova:ratio=0.25,chunk=0",
      "window:ratio=0.5",
      "sinks:ratio=0.4,sinks=4,chunk=2",
      "cluster:ratio=0.5,sinks=2,summaries=4",
      "sketch:type=cms,width=64,depth=3,ratio=0.4,budget=24,recent=4",
      "sketch:type=cs,width=32,depth=3,ratio=0.5,recent=4,strategy=aggregate,summaries=4",
      "snapkv:ratio=0.5,budget=30,recent=4,window=4,pool=3,layers=pyramid,beta=4",
      "knorm:ratio=0.3,recent=2,heads=adaptive",
      // Budgets moved by attention entropy (heads, layers, both; with adaptive heads, a ratio, a schedule).
      "h2o:budget=24,recent=4,sinks=2,heads=entropy,entropy_every=8",
      "tova:budget=24,recent=4,layers=entropy,entropy_every=4,entropy_cap=2",
      "knorm:budget=24,recent=4,layers=entropy,heads=entropy,entropy_every=8",
      "random:budget=24,recent=4,seed=1,layers=entropy,heads=adaptive,entropy_every=8",
      "snapkv:ratio=0.4,budget=32,recent=4,window=4,pool=3,heads=entropy,entropy_every=8",
      "sketch:type=cms,width=64,depth=3,budget=24,recent=4,heads=entropy,entropy_every=8",
      "h2o:budget=24,recent=4,heads=entropy,schedule=every-3,entropy_every=8",
  };
  return specs;
}

fs::path RandomModel(const std::string& preset) {
  static std::map<std::string, fs::path> made;
  if (!made.count(preset)) {
    fs::path dir = test::TempDir("policy-" + preset);
    RandomModelOptions o;
    o.seed = 5;
    WriteRandomModel(FindModelPreset(preset).config, dir, o);
    made[preset] = dir;
  }
  return made[preset];
}

fs::path ModelPathFor(const std::string& name) {
  if (name == "stories260K") return test::AssetsDir() / "models" / "stories260K" / "stories260K.bin";
  if (name == "TinyStories-656K") return test::AssetsDir() / "models" / "tinystories-656k";
  // Sliding-window layers of 16 (layers 0, 1, 3) next to a global one: every budget below is above the
  // window there, so the window bounds those layers and the policy the global one.
  if (name == "gemma3-zoo") return test::AssetsDir() / "models" / "arch-zoo" / "gemma3";
  return RandomModel(name);
}

bool FromAssets(const std::string& model_name) { return model_name != "llama-tiny" && model_name != "gpt2-tiny"; }

// Protected slots of a ScorePolicy or SummaryPolicy (none known for composites).
ScoreBudget Protected(const KvPolicy& p) {
  if (auto* s = dynamic_cast<const ScorePolicy*>(&p)) return s->budget();
  if (auto* s = dynamic_cast<const policies::SummaryPolicy*>(&p)) return s->budget();
  return {};
}

// A ratio's budget in force once the stream has `tokens` tokens; for the checks below it is what a policy
// may hold per head (uniform layers and heads, eviction at every step), and its recent window is protected.
bool RatioBoundsEveryHead(const ScoreBudget& b) {
  return b.ratio > 0.0 && b.options.layers == ScoreOptions::Layers::kUniform && !b.options.adaptive_heads &&
         !b.options.entropy_heads && b.options.schedule == ScoreOptions::Schedule::kStep;
}

void CheckInvariants(const ModelConfig& c, const KvCache& cache, const KvPolicy& policy, int32_t next_pos,
                     const std::string& where) {
  const ScoreBudget spec_budget = Protected(policy);
  const ScoreBudget prot = BudgetAt(spec_budget, static_cast<size_t>(next_pos));
  size_t slots = 0;
  for (size_t l = 0; l < cache.n_layers(); ++l) {
    // A layer with the model's own window holds only positions its next query can see, at most the window.
    const int32_t window = c.Window(l);
    const int32_t oldest_visible = window > 0 ? next_pos - window : 0;
    for (size_t h = 0; h < cache.n_kv_heads(); ++h) {
      auto meta = cache.Meta(l, h);
      slots += meta.size();
      ASSERT_LE(meta.size(), policy.MaxSlots()) << where << " layer " << l << " head " << h;
      if (window > 0) {
        ASSERT_LE(meta.size(), static_cast<size_t>(window)) << where << " layer " << l << " head " << h;
        for (const SlotMeta& m : meta) ASSERT_GE(m.pos, oldest_visible) << where << " layer " << l;
      }
      if (RatioBoundsEveryHead(spec_budget)) {
        // ceil(R × tokens) at most, and when nothing else evicts, exactly that less at most one chunk.
        ASSERT_LE(meta.size(), prot.budget) << where << " layer " << l << " head " << h;
        if (window == 0) {
          ASSERT_GE(meta.size() + prot.chunk, std::min<size_t>(prot.budget, static_cast<size_t>(next_pos)))
              << where << " layer " << l << " head " << h;
        }
      }
      // Per-layer and per-head budgets: the bound of this layer, which may be tighter than MaxSlots().
      if (auto* sp = dynamic_cast<const ScorePolicy*>(&policy)) {
        ASSERT_LE(meta.size(), sp->HeadBound(l)) << where << " layer " << l << " head " << h;
      }
      for (size_t i = 1; i < meta.size(); ++i) ASSERT_LT(meta[i - 1].pos, meta[i].pos) << where;
      std::set<int32_t> present;
      for (const SlotMeta& m : meta) present.insert(m.pos);
      for (int32_t s = oldest_visible; s < static_cast<int32_t>(prot.sinks) && s < next_pos; ++s) {
        ASSERT_TRUE(present.count(s)) << where << ": sink " << s << " evicted";
      }
      for (int32_t r = std::max(oldest_visible, next_pos - static_cast<int32_t>(prot.recent)); r < next_pos; ++r) {
        ASSERT_TRUE(present.count(r)) << where << ": recent position " << r << " evicted";
      }
      // Summary slots: sinks and the recent window stay exact (count 1), and nothing is dropped — the
      // counts add up to every token seen.
      if (dynamic_cast<const policies::SummaryPolicy*>(&policy) != nullptr && window == 0) {
        uint64_t represented = 0;
        for (const SlotMeta& m : meta) {
          represented += m.count;
          const bool exact = m.pos < static_cast<int32_t>(prot.sinks) ||
                             m.pos >= next_pos - static_cast<int32_t>(prot.recent);
          if (exact) {
            ASSERT_EQ(m.count, 1u) << where << ": protected position " << m.pos << " was merged into";
          }
        }
        ASSERT_EQ(represented, static_cast<uint64_t>(next_pos)) << where << " layer " << l << " head " << h;
      }
    }
  }
  // Bytes held, recomputed from the codec definition (kv/codec.h), not from the cache's own row sizes:
  // encoded slots hold packed codes + an (f32 scale, f32 min) per group for integer codecs, the others f32.
  const KvCodec& codec = cache.codec();
  const size_t d = cache.head_dim();
  auto row_bytes = [&](CodecType t) {
    const size_t groups = (d + codec.group - 1) / codec.group;
    return (d * CodecBits(t) + 7) / 8 + (IsIntegerCodec(t) ? groups * 2 * sizeof(float) : 0);
  };
  size_t expected = slots * sizeof(SlotMeta);
  size_t min_blocks = 0, max_blocks = 0;
  for (size_t l = 0; l < cache.n_layers(); ++l) {
    for (size_t h = 0; h < cache.n_kv_heads(); ++h) {
      const size_t n = cache.Size(l, h), nq = cache.QuantizedSlots(l, h);
      ASSERT_LE(nq, n) << where;
      if (codec.quantized()) {
        // At most the residual window stays f32 (eviction may thin it; appends refill it before encoding).
        ASSERT_LE(n - nq, static_cast<size_t>(codec.residual)) << where << " layer " << l << " head " << h;
      } else {
        ASSERT_EQ(nq, 0u) << where;
      }
      if (codec.key_axis == KeyAxis::kChannel) {
        // Codes and a block id per encoded key; the blocks' scale/min rows are bounded below.
        expected += nq * ((d * CodecBits(codec.k) + 7) / 8 + sizeof(uint32_t) + row_bytes(codec.v)) +
                    (n - nq) * 2 * d * sizeof(float);
        min_blocks += (nq + codec.group - 1) / codec.group;
        max_blocks += nq;
      } else {
        expected += nq * (row_bytes(codec.k) + row_bytes(codec.v)) + (n - nq) * 2 * d * sizeof(float);
      }
    }
  }
  if (codec.key_axis == KeyAxis::kChannel) {
    // Every live block is one scale row and one min row; between ceil(nq/group) (full blocks) and nq
    // (one survivor each) blocks are alive per head. The exact count is checked in kv_cache_quant_test.
    const size_t block_bytes = 2 * d * sizeof(float);
    ASSERT_GE(cache.Bytes(), expected + min_blocks * block_bytes) << where;
    ASSERT_LE(cache.Bytes(), expected + max_blocks * block_bytes) << where;
    ASSERT_EQ((cache.Bytes() - expected) % block_bytes, 0u) << where;
  } else {
    ASSERT_EQ(cache.Bytes(), expected) << where;
  }
  if (auto* sp = dynamic_cast<const ScorePolicy*>(&policy)) {
    // Entropy budgets move slots between heads and layers, never beyond the uniform budget's total.
    const ScoreOptions& o = sp->budget().options;
    if (o.entropy() && o.schedule == ScoreOptions::Schedule::kStep && sp->MaxSlots() != KvPolicy::kUnbounded) {
      ASSERT_LE(slots, cache.n_layers() * cache.n_kv_heads() * prot.budget) << where;
    }
    for (size_t l = 0; l < cache.n_layers(); ++l) {
      size_t layer_slots = 0;
      for (size_t h = 0; h < cache.n_kv_heads(); ++h) layer_slots += cache.Size(l, h);
      ASSERT_LE(layer_slots, sp->LayerBound(l)) << where << " layer " << l;
    }
  }
  // Attention-scored policies keep one float per live slot (plus fixed bookkeeping).
  // (Composites with a policy of other metadata — sketches, summary tables — are checked in unit tests.)
  const std::string spec = policy.Spec();
  const bool only_h2o_state = spec.find("h2o:") != std::string::npos && spec.find("sketch:") == std::string::npos &&
                              spec.find("cluster:") == std::string::npos;
  if (only_h2o_state) {
    // Entropy budgets add, per (layer, kv head), an entropy sum, a sample count and a budget.
    const bool entropy = spec.find("entropy") != std::string::npos;
    const size_t entropy_bytes =
        entropy ? cache.n_layers() * cache.n_kv_heads() * (sizeof(double) + sizeof(uint32_t) + sizeof(size_t)) : 0;
    ASSERT_EQ(policy.MetadataBytes(), slots * sizeof(float) + entropy_bytes) << where;
  }
}

struct Stream {
  Stream(const Model& m, const std::string& spec, size_t batch)
      : policy(MakePolicy(spec)), act(m.config(), batch), logits(m.config().vocab_size) {
    policy->Bind(m.config().CacheShape());
    cache = std::make_unique<KvCache>(m.config().CacheShape(), RequiredCapacity(policy.get(), 512, batch),
                                      CacheCodecFor(policy.get()));
  }
  Stream(const Stream& other, const Model& m)
      : policy(other.policy->Clone()), cache(std::make_unique<KvCache>(*other.cache)), act(m.config(), other.act.max_batch),
        logits(other.logits) {}
  std::unique_ptr<KvPolicy> policy;
  std::unique_ptr<KvCache> cache;
  Activations act;
  std::vector<float> logits;
};

class PolicyMatrix : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {};

TEST_P(PolicyMatrix, InvariantsHoldThroughoutAStream) {
  const auto& [model_name, spec] = GetParam();
  if (FromAssets(model_name)) KVLAB_REQUIRE_ASSETS();
  Model model(LoadModel(ModelPathFor(model_name)));
  const ModelConfig& c = model.config();
  if (c.arch == Arch::kGpt2 && spec.find("rerotate=true") != std::string::npos) {
    // Learned positions cannot be re-rotated: Bind refuses, naming the option.
    auto p = MakePolicy(spec);
    try {
      p->Bind(c.CacheShape());
      FAIL() << spec << " bound to a GPT-2 model";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("rerotate=true"), std::string::npos) << e.what();
    }
    return;
  }
  std::mt19937 rng(9);
  std::vector<int32_t> tokens(100);
  for (int32_t& t : tokens) t = std::uniform_int_distribution<int32_t>(0, c.vocab_size - 1)(rng);
  const int32_t prompt = 40, total = std::min<int32_t>(100, c.max_seq_len);

  Stream s(model, spec, 16);  // prefill in chunks of 16
  model.Forward({tokens.data(), static_cast<size_t>(prompt)}, 0, *s.cache, s.act, s.logits.data(),
                LogitsFor::kLastToken, s.policy.get());
  CheckInvariants(c, *s.cache, *s.policy, prompt, spec + " after prefill");
  std::unique_ptr<Stream> clone;
  for (int32_t pos = prompt; pos < total; ++pos) {
    if (pos == prompt + 10) clone = std::make_unique<Stream>(s, model);
    model.Forward({&tokens[pos], 1}, pos, *s.cache, s.act, s.logits.data(), LogitsFor::kLastToken, s.policy.get());
    CheckInvariants(c, *s.cache, *s.policy, pos + 1, spec + " at position " + std::to_string(pos));
    if (HasFatalFailure()) return;
  }
  // The clone, fed the same tokens, must end in exactly the same state.
  for (int32_t pos = prompt + 10; pos < total; ++pos) {
    model.Forward({&tokens[pos], 1}, pos, *clone->cache, clone->act, clone->logits.data(), LogitsFor::kLastToken,
                  clone->policy.get());
  }
  EXPECT_EQ(0, std::memcmp(clone->logits.data(), s.logits.data(), s.logits.size() * sizeof(float))) << spec;
  EXPECT_EQ(clone->policy->MetadataBytes(), s.policy->MetadataBytes());
  for (size_t l = 0; l < s.cache->n_layers(); ++l) {
    for (size_t h = 0; h < s.cache->n_kv_heads(); ++h) {
      auto a = s.cache->Meta(l, h), b = clone->cache->Meta(l, h);
      ASSERT_EQ(a.size(), b.size());
      for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].pos, b[i].pos);
    }
  }
}

class FullPolicy : public ::testing::TestWithParam<std::string> {};

TEST_P(FullPolicy, IsBitIdenticalToNoPolicy) {
  const std::string& model_name = GetParam();
  if (FromAssets(model_name)) KVLAB_REQUIRE_ASSETS();
  Model model(LoadModel(ModelPathFor(model_name)));
  const ModelConfig& c = model.config();
  std::vector<int32_t> tokens(60);
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<int32_t>((i * 7919) % c.vocab_size);
  Stream with(model, "full", 16);
  KvCache plain_cache(c.CacheShape(), 512);
  Activations plain_act(c, 16);
  std::vector<float> plain(c.vocab_size);
  for (size_t i = 0; i < tokens.size(); ++i) {
    model.Forward({&tokens[i], 1}, static_cast<int32_t>(i), *with.cache, with.act, with.logits.data(),
                  LogitsFor::kLastToken, with.policy.get());
    model.Forward({&tokens[i], 1}, static_cast<int32_t>(i), plain_cache, plain_act, plain.data());
    ASSERT_EQ(0, std::memcmp(plain.data(), with.logits.data(), plain.size() * sizeof(float))) << "step " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Models, FullPolicy,
                         ::testing::Values("stories260K", "TinyStories-656K", "llama-tiny", "gpt2-tiny", "gemma3-zoo"),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (char& ch : s) if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return s;
                         });

INSTANTIATE_TEST_SUITE_P(AllPolicies, PolicyMatrix,
                         ::testing::Combine(::testing::Values("stories260K", "TinyStories-656K", "llama-tiny", "gpt2-tiny",
                                                              "gemma3-zoo"),
                                            ::testing::ValuesIn(Specs())),
                         [](const auto& info) {
                           std::string s = std::get<0>(info.param) + "_" + std::get<1>(info.param);
                           for (char& ch : s) if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return s;
                         });

}  // namespace
}  // namespace kvlab
