// The evaluation metrics (docs/METRICS.md) on real models: full-cache perplexity equals the reference
// NLL, a policy compared with itself is exact, and eviction shows up where it must.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kvlab/eval/fidelity.h"
#include "kvlab/eval/gen_compare.h"
#include "kvlab/eval/perplexity.h"
#include "kvlab/model/model.h"
#include "kvlab/tokenizer/tokenizer.h"
#include "kvlab/util/error.h"
#include "test_assets.h"

namespace kvlab {
namespace {

using test::AssetsDir;
namespace fs = std::filesystem;

fs::path Stories260K() { return AssetsDir() / "models" / "stories260K" / "stories260K.bin"; }

nlohmann::json Reference(const std::string& key) {
  return test::ReadJson(AssetsDir() / "reference" / "tinystories_models_reference.json")[key];
}

std::vector<int32_t> ReferenceIds(size_t n = 0) {
  auto ids = Reference("stories260K")["eval"]["token_ids"].get<std::vector<int32_t>>();
  if (n > 0) ids.resize(n);
  return ids;
}

class EvalGolden : public ::testing::Test {
 protected:
  void SetUp() override { KVLAB_REQUIRE_ASSETS(); }
};

TEST_F(EvalGolden, FullCachePerplexityEqualsReferenceNll) {
  for (const auto& [key, path] : {std::pair<std::string, fs::path>{"stories260K", Stories260K()},
                                  {"TinyStories-656K", AssetsDir() / "models" / "tinystories-656k"}}) {
    const auto ref = Reference(key)["eval"];
    Model model(LoadModel(path));
    const auto ids = ref["token_ids"].get<std::vector<int32_t>>();
    const PerplexityResult r = EvaluatePerplexity(model, ids, PerplexityOptions{});
    EXPECT_EQ(r.tokens, ref["n_predicted"].get<int64_t>()) << key;
    EXPECT_NEAR(r.nll_mean, ref["nll_mean"].get<double>(), 1e-5) << key;
    EXPECT_NEAR(r.ppl, ref["ppl"].get<double>(), 1e-4) << key;
    EXPECT_FALSE(r.has_full);
  }
}

TEST_F(EvalGolden, FullAgainstFullIsExact) {
  Model model(LoadModel(Stories260K()));
  PerplexityOptions o;
  o.vs_full = true;
  o.curve_block = 32;
  const PerplexityResult r = EvaluatePerplexity(model, ReferenceIds(100), o);
  ASSERT_TRUE(r.has_full);
  EXPECT_EQ(r.tokens, 99);
  EXPECT_EQ(r.kl_max, 0.0);
  EXPECT_EQ(r.kl_mean, 0.0);
  EXPECT_EQ(r.top1_agreement, 1.0);
  EXPECT_EQ(r.rms_dp, 0.0);
  EXPECT_EQ(r.ppl_ratio, 1.0);
  EXPECT_EQ(r.kv_bytes, r.kv_bytes_full);
  ASSERT_EQ(r.nll_curve.size(), 4u);  // 99 scored tokens in blocks of 32
  EXPECT_EQ(r.nll_curve, r.nll_curve_full);
}

TEST_F(EvalGolden, WindowAgainstFullDivergesOnceTheWindowIsFull) {
  Model model(LoadModel(Stories260K()));
  PerplexityOptions o;
  o.kv = "window:budget=16";
  o.vs_full = true;
  const PerplexityResult r = EvaluatePerplexity(model, ReferenceIds(120), o);
  EXPECT_GT(r.kl_mean, 0.0);
  EXPECT_GE(r.kl_max, r.kl_p99);
  EXPECT_GE(r.kl_p99, r.kl_median);
  EXPECT_GT(r.rms_dp, 0.0);
  EXPECT_LE(r.top1_agreement, 1.0);
  EXPECT_NE(r.ppl, r.ppl_full);
  EXPECT_LT(r.kv_bytes, r.kv_bytes_full);
}

TEST_F(EvalGolden, ContextAndWindowRules) {
  Model model(LoadModel(Stories260K()));
  PerplexityOptions o;
  o.ctx = 64;  // streaming: at most ctx tokens without --stream-past-context
  EXPECT_EQ(EvaluatePerplexity(model, ReferenceIds(100), o).tokens, 63);
  o.stream_past_context = true;
  EXPECT_EQ(EvaluatePerplexity(model, ReferenceIds(100), o).tokens, 99);
  // Windowed: 200 tokens = 3 windows of 64; each scores predictions 32..62 of the window (31 tokens).
  o.stream_past_context = false;
  o.windowed = true;
  const PerplexityResult w = EvaluatePerplexity(model, ReferenceIds(200), o);
  EXPECT_EQ(w.tokens, 93);
  EXPECT_GT(w.ppl, 1.0);
  // llama.cpp --ppl-stride: windows of 64 every 16 tokens: (100 - 64 + 15) / 16 = 3 windows, 16 scored each.
  o.stride = 16;
  EXPECT_EQ(EvaluatePerplexity(model, ReferenceIds(100), o).tokens, 48);
  o.stride = 64;
  EXPECT_THROW(EvaluatePerplexity(model, ReferenceIds(100), o), Error);
  o.stride = 0;
  o.ctx = 256;
  EXPECT_THROW(EvaluatePerplexity(model, ReferenceIds(200), o), Error);  // not one whole window
  o.windowed = false;
  o.kv = "nonsense";
  EXPECT_THROW(EvaluatePerplexity(model, ReferenceIds(200), o), Error);
}

TEST_F(EvalGolden, Gpt2CannotStreamPastItsPositions) {
  Model model(LoadModel(AssetsDir() / "models" / "shakespeare-char-gpt2"));
  const std::vector<int32_t> ids(80, 1);
  PerplexityOptions o;
  o.ctx = model.config().max_seq_len + 1;
  EXPECT_THROW(EvaluatePerplexity(model, ids, o), Error);
  o.ctx = 0;
  o.stream_past_context = true;
  EXPECT_THROW(EvaluatePerplexity(model, ids, o), Error);
  o.stream_past_context = false;  // capped at the 64 positions: fine
  EXPECT_EQ(EvaluatePerplexity(model, ids, o).tokens, model.config().max_seq_len - 1);
}

TEST_F(EvalGolden, FidelityOfFullIsPerfect) {
  Model model(LoadModel(Stories260K()));
  FidelityOptions o;
  o.warmup = 16;
  o.stride = 16;
  o.layers = {0, 4};
  const FidelityResult r = EvaluateFidelity(model, ReferenceIds(80), o);
  ASSERT_EQ(r.heads.size(), 2u * model.config().n_heads);
  ASSERT_EQ(r.layers.size(), 2u);
  for (const HeadFidelity& h : r.heads) {
    EXPECT_EQ(h.samples, 4);  // positions 16, 32, 48, 64
    EXPECT_NEAR(h.retained_mass, 1.0, 1e-6);
    EXPECT_NEAR(h.kl, 0.0, 1e-6);
    EXPECT_NEAR(h.cosine, 1.0, 1e-6);
    EXPECT_NEAR(h.l1, 0.0, 1e-6);
    EXPECT_NEAR(h.output_rel_error, 0.0, 1e-6);
    EXPECT_EQ(h.argmax_agreement, 1.0);
  }
  EXPECT_EQ(r.mean.layer, -1);
  EXPECT_GT(r.epsilon, 0.0);
}

TEST_F(EvalGolden, FidelityOfWindowLosesMassPastTheWindow) {
  Model model(LoadModel(Stories260K()));
  FidelityOptions o;
  o.kv = "window:budget=16";
  o.warmup = 8;  // position 8 still fits the window; 24, 40, ... do not
  o.stride = 16;
  const FidelityResult r = EvaluateFidelity(model, ReferenceIds(100), o);
  ASSERT_EQ(r.layers.size(), 1u);
  EXPECT_EQ(r.layers[0].layer, model.config().n_layers / 2);  // 5 layers: no layer 6, the middle one
  EXPECT_LT(r.mean.retained_mass, 1.0);
  EXPECT_GT(r.mean.retained_mass, 0.0);
  EXPECT_GT(r.mean.kl, 0.0);
  EXPECT_GT(r.mean.output_rel_error, 0.0);
  EXPECT_LT(r.mean.cosine, 1.0);
  o.layers = {9};
  EXPECT_THROW(EvaluateFidelity(model, ReferenceIds(100), o), Error);
}

TEST_F(EvalGolden, GenCompareOfFullAgreesCompletely) {
  Model model(LoadModel(Stories260K()));
  auto tokenizer = LoadTokenizer({model.loaded().path, model.loaded().format, model.config().vocab_size});
  const std::vector<std::string> prompts = {"Once upon a time", "Tom had a red ball."};
  GenCompareOptions o;
  o.max_new_tokens = 24;
  const GenCompareResult same = CompareGeneration(model, *tokenizer, prompts, o);
  EXPECT_EQ(same.prompts, 2);
  EXPECT_EQ(same.mean_agreement_tokens, 24.0);
  EXPECT_DOUBLE_EQ(same.bleu, 1.0);
  EXPECT_DOUBLE_EQ(same.rouge_l, 1.0);
  o.kv = "window:budget=4";
  const GenCompareResult window = CompareGeneration(model, *tokenizer, prompts, o);
  EXPECT_LT(window.mean_agreement_tokens, 24.0);
  EXPECT_LT(window.bleu, 1.0);
  EXPECT_EQ(window.per_prompt[0].full_ids, same.per_prompt[0].full_ids);  // the reference side is the same
}

}  // namespace
}  // namespace kvlab
