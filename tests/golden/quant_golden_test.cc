// Quantized KV caches on the real models in ../shared: codec round-trip error on the keys and values the
// models actually produce (the table in docs/POLICIES.md), and how much of a greedy generation survives
// each codec compared with the f32 cache.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "kvlab/gen/generate.h"
#include "kvlab/kv/registry.h"
#include "kvlab/model/model.h"
#include "test_assets.h"

namespace kvlab {
namespace {

namespace fs = std::filesystem;

fs::path ModelPath(const std::string& name) {
  if (name == "stories260K") return test::AssetsDir() / "models" / "stories260K" / "stories260K.bin";
  return test::AssetsDir() / "models" / "tinystories-656k";
}

GenerateResult Greedy(const Model& model, const std::string& spec, int32_t steps) {
  std::unique_ptr<KvPolicy> policy = spec.empty() ? nullptr : MakePolicy(spec);
  if (policy) policy->Bind(model.config().CacheShape());
  GenerateOptions opts;
  opts.max_new_tokens = steps;
  opts.stop_at_eos = false;
  opts.sampler.temperature = 0;
  opts.policy = policy.get();
  KvCache cache(model.config().CacheShape(), RequiredCapacity(policy.get(), steps + 1, opts.prefill_batch),
                CacheCodecFor(policy.get()));
  return Generate(model, nullptr, cache, {1}, opts);
}

class QuantOnModel : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { KVLAB_REQUIRE_ASSETS(); }
};

// Rows of the f32 cache after a 200-token greedy stream, encoded and decoded per codec (group 32, or the
// whole row when head_dim is smaller).
TEST_P(QuantOnModel, RoundTripErrorOnRealKeysAndValues) {
  Model model(LoadModel(ModelPath(GetParam())));
  const ModelConfig& c = model.config();
  const GenerateResult ids = Greedy(model, "", 199);
  std::vector<int32_t> tokens = {1};
  tokens.insert(tokens.end(), ids.tokens.begin(), ids.tokens.end());
  KvCache cache(c.CacheShape(), tokens.size());
  Activations act(c, 64);
  std::vector<float> logits(c.vocab_size);
  model.Forward(tokens, 0, cache, act, logits.data());
  const size_t d = cache.head_dim(), group = 32;
  std::printf("%s (head_dim %zu): codec, bits/value incl. scales, rel. error keys, values\n", GetParam().c_str(), d);
  for (CodecType t : {CodecType::kF16, CodecType::kBf16, CodecType::kInt8, CodecType::kInt4, CodecType::kInt2}) {
    std::vector<uint8_t> row(CodecRowBytes(t, d, group));
    std::vector<float> back(d);
    double err[2] = {0, 0}, norm[2] = {0, 0};
    for (size_t l = 0; l < cache.n_layers(); ++l) {
      for (size_t h = 0; h < cache.n_kv_heads(); ++h) {
        for (size_t s = 0; s < cache.Size(l, h); ++s) {
          for (int kv = 0; kv < 2; ++kv) {
            const float* x = (kv == 0 ? cache.Keys(l, h) : cache.Values(l, h)) + s * d;
            EncodeRow(t, x, d, group, row.data());
            DecodeRow(t, row.data(), d, group, back.data());
            for (size_t i = 0; i < d; ++i) {
              err[kv] += (static_cast<double>(x[i]) - back[i]) * (x[i] - back[i]);
              norm[kv] += static_cast<double>(x[i]) * x[i];
            }
          }
        }
      }
    }
    const double ek = std::sqrt(err[0] / norm[0]), ev = std::sqrt(err[1] / norm[1]);
    std::printf("  %-5s %5.2f  %.5f  %.5f\n", CodecName(t), 8.0 * row.size() / d, ek, ev);
    // Same bounds as the Gaussian test (tests/unit/kv_codec_test.cc): real rows are no worse.
    const double bound = t == CodecType::kInt8 ? 0.01 : t == CodecType::kInt4 ? 0.10 : t == CodecType::kInt2 ? 0.5 : 4e-3;
    EXPECT_LT(ek, bound) << CodecName(t);
    EXPECT_LT(ev, bound) << CodecName(t);
  }
}

// Greedy text from BOS, 200 tokens: tokens equal to the f32 cache's until the first divergence.
TEST_P(QuantOnModel, GreedyGenerationStaysCloseToTheF32Cache) {
  Model model(LoadModel(ModelPath(GetParam())));
  const int32_t steps = 200;
  const GenerateResult full = Greedy(model, "", steps);
  ASSERT_EQ(full.tokens.size(), static_cast<size_t>(steps));
  std::printf("%s: greedy tokens (of %d) equal to the f32 cache before the first divergence / in total\n",
              GetParam().c_str(), steps);
  for (const char* spec : {"quant:k=f16,v=f16", "quant:k=bf16,v=bf16", "quant:k=int8,v=int8",
                           "quant:k=int8,v=int8,group=8", "quant:k=int4,v=int4,group=32,residual=64",
                           "quant:k=int4,v=int4", "quant:k=int2,v=int2,residual=64",
                           "h2o:budget=128,recent=32+quant:k=int4,v=int4,group=32,residual=64"}) {
    const GenerateResult r = Greedy(model, spec, steps);
    ASSERT_EQ(r.tokens.size(), full.tokens.size()) << spec;
    size_t prefix = 0, same = 0;
    while (prefix < r.tokens.size() && r.tokens[prefix] == full.tokens[prefix]) ++prefix;
    for (size_t i = 0; i < r.tokens.size(); ++i) same += r.tokens[i] == full.tokens[i];
    std::printf("  %-66s %3zu / %3zu\n", spec, prefix, same);
    if (std::string(spec) == "quant:k=f16,v=f16") {
      EXPECT_GE(prefix, 150u) << spec;
    }
    // int8 flips the same near-tie as bf16 on TinyStories-656K (token 59): a bound, not a target.
    if (std::string(spec) == "quant:k=int8,v=int8") {
      EXPECT_GE(prefix, 50u) << spec;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Models, QuantOnModel, ::testing::Values("stories260K", "TinyStories-656K"),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (char& ch : s) if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return s;
                         });

}  // namespace
}  // namespace kvlab
