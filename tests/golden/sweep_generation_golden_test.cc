// The sweep's generation metric on stories260K: its prompts are consecutive windows of the text, its numbers
// are CompareGeneration's for the same prompt ids, and the full-cache continuations it reuses across
// policies change nothing.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kvlab/eval/gen_compare.h"
#include "kvlab/eval/text_source.h"
#include "kvlab/model/model.h"
#include "kvlab/sweep/generation_metric.h"
#include "kvlab/tokenizer/tokenizer.h"
#include "kvlab/util/error.h"
#include "test_assets.h"

namespace kvlab {
namespace {

using nlohmann::json;

class SweepGenerationGolden : public ::testing::Test {
 protected:
  void SetUp() override {
    KVLAB_REQUIRE_ASSETS();
    model_ =
        std::make_unique<Model>(LoadModel(test::AssetsDir() / "models" / "stories260K" / "stories260K.bin"));
    const LoadedModel& m = model_->loaded();
    tokenizer_ = LoadTokenizer({m.path, m.format, m.config.vocab_size});
    text_ = ResolveTextSource("tinystories_val.txt", "text");
  }

  GridPoint Point(const std::string& spec) const {
    GridPoint p;
    p.model = "stories260K";
    p.text = "tinystories_val.txt";
    p.text_source = text_;
    p.spec = spec;
    return p;
  }

  std::unique_ptr<Model> model_;
  std::unique_ptr<Tokenizer> tokenizer_;
  TextSource text_;
};

TEST_F(SweepGenerationGolden, PromptsAreConsecutiveWindowsEachWithBos) {
  ASSERT_TRUE(tokenizer_->add_bos_default());  // llama2.c vocabulary: BOS first
  const std::vector<std::vector<int32_t>> prompts = GenerationPrompts(*tokenizer_, text_, 3, 10);
  const std::string text = ReadTextSource(text_, "text");
  const std::vector<int32_t> ids = tokenizer_->Encode(text.substr(0, 2000), true);  // BOS + tokens
  ASSERT_EQ(prompts.size(), 3u);
  for (size_t i = 0; i < prompts.size(); ++i) {
    ASSERT_EQ(prompts[i].size(), 10u);
    EXPECT_EQ(prompts[i][0], tokenizer_->bos_id());
    // Window i holds text tokens 9i .. 9i + 8 (ids[0] is BOS).
    EXPECT_EQ(std::vector<int32_t>(prompts[i].begin() + 1, prompts[i].end()),
              std::vector<int32_t>(ids.begin() + 1 + 9 * i, ids.begin() + 10 + 9 * i))
        << i;
  }
  try {
    GenerationPrompts(*tokenizer_, ResolveTextSource("wikitext-2:0", "text"), 1000, 50);
    ADD_FAILURE() << "a text too short for the prompts";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("(1000 prompts of 50 tokens)"), std::string::npos) << e.what();
  }
}

TEST_F(SweepGenerationGolden, RowNumbersAreCompareGenerationsForTheSamePromptIds) {
  SweepMetrics m;
  m.generation = true;
  m.generation_prompt_tokens = 12;
  m.generation_lengths = {24, 40};
  m.generation_prompts = 2;
  GenerationMetric metric(m);
  const std::vector<std::vector<int32_t>> prompts = GenerationPrompts(*tokenizer_, text_, 2, 12);
  const std::string text = ReadTextSource(text_, "text");

  // "full" first: it fills the reference the window point then reuses.
  for (const std::string spec : {"full", "window:budget=8"}) {
    const json row = metric.Evaluate(*model_, *tokenizer_, Point(spec));
    ASSERT_EQ(row["generation"].size(), 2u);
    double bleu = 0;
    for (size_t l = 0; l < 2; ++l) {
      const json& g = row["generation"][l];
      const int64_t length = m.generation_lengths[l];
      EXPECT_EQ(g["total_tokens"], length);
      EXPECT_EQ(g["prompt_tokens"], 12);
      EXPECT_EQ(g["new_tokens"], length - 12);
      EXPECT_EQ(g["prompts"], 2);
      GenCompareOptions o;
      o.kv = spec;
      o.max_new_tokens = static_cast<int32_t>(length - 12);
      const GenCompareResult direct = CompareGenerationIds(*model_, tokenizer_.get(), prompts, o);
      EXPECT_EQ(g["agreement_tokens"].get<double>(), direct.mean_agreement_tokens) << spec << " " << length;
      EXPECT_EQ(g["bleu"].get<double>(), direct.bleu) << spec << " " << length;
      EXPECT_EQ(g["rouge_l"].get<double>(), direct.rouge_l) << spec << " " << length;
      ASSERT_EQ(g["per_prompt"].size(), 2u);
      for (size_t i = 0; i < 2; ++i) {
        EXPECT_EQ(g["per_prompt"][i]["agreement_tokens"], direct.per_prompt[i].agreement_tokens);
        EXPECT_EQ(g["per_prompt"][i]["bleu"].get<double>(), direct.per_prompt[i].bleu);
        EXPECT_EQ(g["per_prompt"][i]["rouge_l"].get<double>(), direct.per_prompt[i].rouge_l);
      }
      // The first window is the text's first 12 tokens: what gen-compare does with the text as a prompt.
      o.prompt_tokens = 12;
      const std::vector<std::string> as_text = {text.substr(0, 400)};
      const GenCompareResult from_text = CompareGeneration(*model_, *tokenizer_, as_text, o);
      EXPECT_EQ(from_text.per_prompt[0].full_ids, direct.per_prompt[0].full_ids);
      EXPECT_EQ(from_text.per_prompt[0].policy_ids, direct.per_prompt[0].policy_ids);
      EXPECT_EQ(g["per_prompt"][0]["bleu"].get<double>(), from_text.per_prompt[0].bleu);
      if (spec == "full") {
        EXPECT_EQ(g["agreement_tokens"].get<double>(), static_cast<double>(length - 12));
        EXPECT_EQ(g["bleu"].get<double>(), 1.0);
      }
      bleu += g["bleu"].get<double>();
    }
    EXPECT_EQ(row["gen_bleu"].get<double>(), bleu / 2);
    if (spec != "full") {
      EXPECT_LT(row["gen_bleu"].get<double>(), 1.0);  // 8 slots lose the prompt
    }
  }
}

TEST_F(SweepGenerationGolden, AReusedReferenceGivesTheSameComparison) {
  const std::vector<std::vector<int32_t>> prompts = GenerationPrompts(*tokenizer_, text_, 2, 8);
  GenCompareOptions o;
  o.kv = "h2o:budget=8,recent=2";
  o.max_new_tokens = 20;
  const GenCompareResult fresh = CompareGenerationIds(*model_, tokenizer_.get(), prompts, o);
  const GenCompareResult reused =
      CompareGenerationIds(*model_, tokenizer_.get(), prompts, o, fresh.per_prompt);
  EXPECT_EQ(ToJson(reused).dump(), ToJson(fresh).dump());
  EXPECT_THROW(CompareGenerationIds(*model_, tokenizer_.get(), prompts, o,
                                    std::span<const PromptComparison>(fresh.per_prompt).first(1)),
               Error);
}

}  // namespace
}  // namespace kvlab
