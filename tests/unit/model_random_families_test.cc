// `kvlab init` for every family: a random checkpoint of each tiny family preset loads back to its preset's
// config with the family's tensors in place (Qwen2 biases, Phi-3's fused rows, Gemma's (1 + w) norms) and
// runs a forward step.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "kvlab/model/model.h"
#include "kvlab/model/presets.h"
#include "kvlab/model/random_model.h"
#include "model_config_expect.h"
#include "test_assets.h"

namespace kvlab::test {
namespace {

constexpr uint64_t kSeed = 5;

std::vector<float> Stored(const std::string& name, size_t n) {
  std::vector<float> v(n);
  FillRandomNormal(kSeed, name, 0.02f, v);
  return v;
}

std::vector<float> Values(const VectorView& v) { return {v.data, v.data + v.size}; }

std::vector<float> Rows(const MatrixView& m) {
  const auto* p = static_cast<const float*>(m.data);
  return {p, p + m.rows * m.cols};
}

class RandomFamilyModel : public testing::TestWithParam<const char*> {};

TEST_P(RandomFamilyModel, InitLoadsBackAndRunsAForwardStep) {
  const ModelConfig& want = FindModelPreset(GetParam()).config;
  const auto dir = TempDir(std::string("init-family-") + GetParam()) / "model";
  RandomModelOptions o;
  o.seed = kSeed;
  InitRandomModelDir(want, dir, o, /*force=*/false);
  LoadedModel loaded = LoadModel(dir);
  const ModelConfig& c = loaded.config;
  ExpectSameConfig(want, c, GetParam());

  // Every norm is neutral: ones as written, or Gemma's stored zeros with the loader's 1 added.
  const LayerWeights& l = loaded.weights.layers.back();
  const std::vector<const VectorView*> norms = {
      &l.attn_norm, &l.ffn_norm, &l.attn_post_norm,         &l.ffn_post_norm,
      &l.q_norm,    &l.k_norm,   &loaded.weights.final_norm};
  for (const VectorView* n : norms) {
    for (float w : Values(*n)) ASSERT_EQ(w, 1.0f);
  }
  EXPECT_EQ(!l.attn_post_norm.empty(), c.sandwich_norms);
  EXPECT_EQ(l.q_norm.size, c.qk_norm ? c.head_dim : 0);

  const std::string p = "model.layers." + std::to_string(c.n_layers - 1) + ".self_attn.";
  if (c.qkv_bias) {
    EXPECT_EQ(Values(l.bk), Stored(p + "k_proj.bias", c.kv_dim()));
  }
  EXPECT_EQ(l.bk.size, c.qkv_bias ? c.kv_dim() : 0);
  if (c.arch == Arch::kPhi3) {  // k is the second row block of the fused qkv_proj
    const std::vector<float> qkv =
        Stored(p + "qkv_proj.weight", static_cast<size_t>(c.q_dim() + 2 * c.kv_dim()) * c.dim);
    const auto k_begin = qkv.begin() + static_cast<std::ptrdiff_t>(c.q_dim()) * c.dim;
    EXPECT_EQ(Rows(l.wk),
              std::vector<float>(k_begin, k_begin + static_cast<std::ptrdiff_t>(c.kv_dim()) * c.dim));
  } else {
    EXPECT_EQ(Rows(l.wk), Stored(p + "k_proj.weight", static_cast<size_t>(c.kv_dim()) * c.dim));
  }

  // Prefill past the sliding windows (16 tokens in the tiny presets), then one decode step.
  const Model model(std::move(loaded));
  const std::vector<int32_t> prompt = {3, 17, 99, 4, 250, 7,  81, 12, 300, 5,
                                       6, 77, 8,  9, 10,  11, 42, 13, 14,  15};
  KvCache cache(c.CacheShape(), prompt.size() + 1);
  Activations act(c, 8);
  std::vector<float> logits(static_cast<size_t>(c.vocab_size));
  model.Forward(prompt, 0, cache, act, logits.data());
  const int32_t next = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
  model.Forward(std::span<const int32_t>(&next, 1), static_cast<int32_t>(prompt.size()), cache, act,
                logits.data());
  for (float x : logits) ASSERT_TRUE(std::isfinite(x));
  const auto [lo, hi] = std::minmax_element(logits.begin(), logits.end());
  EXPECT_GT(*hi - *lo, 0.0f) << "every logit is the same";
  if (c.final_softcap > 0) {
    EXPECT_LE(*hi, c.final_softcap);
  }
}

INSTANTIATE_TEST_SUITE_P(TinyPresets, RandomFamilyModel,
                         testing::Values("llama3-tiny", "mistral-tiny", "qwen2-tiny", "qwen3-tiny",
                                         "gemma2-tiny", "gemma3-tiny", "phi3-tiny"),
                         [](const testing::TestParamInfo<const char*>& i) {
                           std::string n = i.param;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

// Half-precision checkpoints run in place under --weights auto, GPT-2's learned positions included: the
// same numbers as converting everything to f32 first (f16 values are exact in f32).
TEST(RandomFamilyModel, HalfPrecisionGpt2RunsInPlaceWithItsPositions) {
  const auto dir = TempDir("init-gpt2-f16") / "model";
  RandomModelOptions o;
  o.seed = kSeed;
  o.dtype = DType::kF16;
  InitRandomModelDir(FindModelPreset("gpt2-tiny").config, dir, o, /*force=*/false);
  const Model in_place(LoadModel(dir, {.weights = WeightFormat::kAuto}));
  const Model widened(LoadModel(dir, {.weights = WeightFormat::kF32}));
  ASSERT_EQ(in_place.loaded().weights.pos_emb.dtype, DType::kF16);
  const ModelConfig& c = in_place.config();
  std::vector<float> a(c.vocab_size), b(c.vocab_size);
  KvCache ca(c.CacheShape(), 8), cb(c.CacheShape(), 8);
  Activations aa(c, 8), ab(c, 8);
  for (int32_t pos = 0; pos < 8; ++pos) {
    const int32_t token[] = {(pos * 31 + 7) % c.vocab_size};
    in_place.Forward(token, pos, ca, aa, a.data());
    widened.Forward(token, pos, cb, ab, b.data());
    for (int32_t v = 0; v < c.vocab_size; ++v) ASSERT_NEAR(a[v], b[v], 1e-5f) << "position " << pos;
  }
}

}  // namespace
}  // namespace kvlab::test
