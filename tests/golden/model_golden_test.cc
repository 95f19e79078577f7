// Golden tests of every model path against ../shared/reference (computed by an independent implementation).
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "kvlab/gen/generate.h"
#include "kvlab/model/model.h"
#include "kvlab/tokenizer/tokenizer.h"
#include "test_assets.h"

namespace kvlab {
namespace {

using test::AssetsDir;
namespace fs = std::filesystem;

nlohmann::json TinyStoriesReference() {
  return test::ReadJson(AssetsDir() / "reference" / "tinystories_models_reference.json");
}

fs::path ModelPath(const std::string& which) {
  const fs::path m = AssetsDir() / "models";
  if (which == "stories260K.bin") return m / "stories260K" / "stories260K.bin";
  if (which == "stories260K.gguf") return m / "stories260K" / "stories260K-v1.gguf";
  if (which == "TinyStories-656K") return m / "tinystories-656k";
  return m / "shakespeare-char-gpt2";
}

// Mean next-token NLL (nats) of `ids` with one batched prefill over the whole sequence.
double MeanNll(const Model& model, const std::vector<int32_t>& ids) {
  const ModelConfig& c = model.config();
  // The last id is only a target: feed ids[0..n-2] (a 65-char Shakespeare window uses positions 0..63).
  const std::span<const int32_t> inputs(ids.data(), ids.size() - 1);
  KvCache cache(c.CacheShape(), inputs.size());
  Activations act(c, 64);
  std::vector<float> logits(inputs.size() * c.vocab_size);
  model.Forward(inputs, 0, cache, act, logits.data(), LogitsFor::kAllTokens);
  double nll = 0;
  for (size_t i = 0; i + 1 < ids.size(); ++i) {
    const float* row = logits.data() + i * c.vocab_size;
    double mx = row[0];
    for (int32_t v = 1; v < c.vocab_size; ++v) mx = std::max<double>(mx, row[v]);
    double z = 0;
    for (int32_t v = 0; v < c.vocab_size; ++v) z += std::exp(row[v] - mx);
    nll += -(row[ids[i + 1]] - mx - std::log(z));
  }
  return nll / static_cast<double>(ids.size() - 1);
}

class TinyStoriesGolden : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { KVLAB_REQUIRE_ASSETS(); }
  // Reference key for the model under test.
  std::string Key() const { return GetParam() == "TinyStories-656K" ? "TinyStories-656K" : "stories260K"; }
};

TEST_P(TinyStoriesGolden, GreedyFromBosMatchesReferenceIdsAndText) {
  const auto ref = TinyStoriesReference()[Key()]["greedy_from_bos"];
  Model model(LoadModel(ModelPath(GetParam())));
  auto tokenizer = LoadTokenizer({model.loaded().path, model.loaded().format, model.config().vocab_size});
  KvCache cache(model.config().CacheShape(), model.config().max_seq_len);
  GenerateOptions opts;
  opts.max_new_tokens = ref["steps"].get<int32_t>();
  opts.stop_at_eos = false;  // the reference ran all steps
  opts.sampler.temperature = 0;
  const auto prompt = ref["prompt_ids"].get<std::vector<int32_t>>();
  GenerateResult r = Generate(model, tokenizer.get(), cache, prompt, opts);
  EXPECT_EQ(r.tokens, ref["generated_ids"].get<std::vector<int32_t>>());
  if (ref.contains("text")) {
    EXPECT_EQ(r.text, ref["text"].get<std::string>());
  } else {
    // Text up to the first EOS.
    std::vector<int32_t> until_eos;
    for (int32_t t : r.tokens) {
      if (t == model.config().eos_id) break;
      until_eos.push_back(t);
    }
    EXPECT_EQ(tokenizer->Decode(until_eos), ref["text_until_eos"].get<std::string>());
  }
}

TEST_P(TinyStoriesGolden, EvalNllAndFirstLogitsMatchReference) {
  const auto ref = TinyStoriesReference()[Key()];
  Model model(LoadModel(ModelPath(GetParam())));
  const auto ids = ref["eval"]["token_ids"].get<std::vector<int32_t>>();
  EXPECT_NEAR(MeanNll(model, ids), ref["eval"]["nll_mean"].get<double>(), 1e-3);

  KvCache cache(model.config().CacheShape(), 4);
  Activations act(model.config(), 1);
  std::vector<float> logits(model.config().vocab_size);
  const int32_t bos = model.config().bos_id;
  model.Forward({&bos, 1}, 0, cache, act, logits.data());
  const auto first8 = ref["logits_pos0_bos_first8"].get<std::vector<double>>();
  for (size_t i = 0; i < first8.size(); ++i) EXPECT_NEAR(logits[i], first8[i], 1e-4) << "logit " << i;
}

TEST_P(TinyStoriesGolden, PrefillAndStepwiseDecodeGiveTheSameLogits) {
  const auto ref = TinyStoriesReference()[Key()];
  Model model(LoadModel(ModelPath(GetParam())));
  const ModelConfig& c = model.config();
  auto ids = ref["eval"]["token_ids"].get<std::vector<int32_t>>();
  ids.resize(100);
  KvCache batch_cache(c.CacheShape(), ids.size()), step_cache(c.CacheShape(), ids.size());
  Activations batch_act(c, 32), step_act(c, 1);  // batch of 32: prefill runs in several chunks
  std::vector<float> batch(ids.size() * c.vocab_size), step(c.vocab_size);
  model.Forward(ids, 0, batch_cache, batch_act, batch.data(), LogitsFor::kAllTokens);
  double max_diff = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    model.Forward({&ids[i], 1}, static_cast<int32_t>(i), step_cache, step_act, step.data());
    for (int32_t v = 0; v < c.vocab_size; ++v) {
      max_diff = std::max<double>(max_diff, std::abs(step[v] - batch[i * c.vocab_size + v]));
    }
  }
  EXPECT_LT(max_diff, 1e-4);
}

INSTANTIATE_TEST_SUITE_P(Models, TinyStoriesGolden,
                         ::testing::Values("stories260K.bin", "stories260K.gguf", "TinyStories-656K"),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (char& ch : s) if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return s;
                         });

class ShakespeareGolden : public ::testing::Test {
 protected:
  void SetUp() override { KVLAB_REQUIRE_ASSETS(); }
};

TEST_F(ShakespeareGolden, ValidationNllPerCharMatchesReference) {
  const auto ref = test::ReadJson(AssetsDir() / "reference" / "shakespeare_char_gpt2_reference.json");
  Model model(LoadModel(ModelPath("shakespeare")));
  auto tokenizer = LoadTokenizer({model.loaded().path, model.loaded().format, model.config().vocab_size});
  const std::string text = ReadTextFile(AssetsDir() / "text" / "tinyshakespeare.txt");
  // Protocol: chars [int(0.9 N):], 200 non-overlapping windows of 65 chars, 64 inputs at positions 0..63.
  const std::string val = text.substr(static_cast<size_t>(0.9 * static_cast<double>(text.size())));
  const std::vector<int32_t> ids = tokenizer->Encode(val, false);
  ASSERT_GE(ids.size(), 200u * 65u);
  double total = 0;
  for (size_t w = 0; w < 200; ++w) {
    std::vector<int32_t> window(ids.begin() + w * 65, ids.begin() + w * 65 + 65);
    total += MeanNll(model, window) * 64;
  }
  EXPECT_NEAR(total / (200 * 64), ref["val_nll_per_char"].get<double>(), 1e-3);
}

TEST_F(ShakespeareGolden, GreedyCharactersFromNewlineMatchReference) {
  // nanoGPT-style generation: past the 64 learned positions the model re-reads the last 64 characters.
  const auto ref = test::ReadJson(AssetsDir() / "reference" / "shakespeare_char_gpt2_reference.json");
  Model model(LoadModel(ModelPath("shakespeare")));
  const ModelConfig& c = model.config();
  auto tokenizer = LoadTokenizer({model.loaded().path, model.loaded().format, model.config().vocab_size});
  std::vector<int32_t> ids = tokenizer->Encode("\n", false);
  KvCache cache(c.CacheShape(), c.max_seq_len);
  Activations act(c, c.max_seq_len);
  std::vector<float> logits(c.vocab_size);
  model.Forward(ids, 0, cache, act, logits.data());
  for (int step = 0; step < 200; ++step) {
    ids.push_back(Argmax(logits));
    if (ids.size() <= static_cast<size_t>(c.max_seq_len)) {
      model.Forward({&ids.back(), 1}, static_cast<int32_t>(ids.size() - 1), cache, act, logits.data());
    } else {
      cache.Clear();
      model.Forward({ids.data() + ids.size() - c.max_seq_len, static_cast<size_t>(c.max_seq_len)}, 0, cache, act,
                    logits.data());
    }
  }
  EXPECT_EQ(ids, ref["greedy_ids"].get<std::vector<int32_t>>());
  EXPECT_EQ(tokenizer->Decode(ids), ref["greedy_from_newline_200"].get<std::string>());
}

}  // namespace
}  // namespace kvlab
