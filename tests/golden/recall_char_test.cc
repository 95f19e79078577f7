// recall-char (../shared/models/recall-char): a small model that really retrieves a needle from earlier in
// its context. Against ../shared/reference/recall_char_reference.json: kvlab's greedy answers to its 100
// prompts under each recorded policy, and the full cache's accuracy (93/100). Then the task runner on the
// same model: what a cache that no longer holds the needle can and cannot answer.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kvlab/gen/generate.h"
#include "kvlab/kv/registry.h"
#include "kvlab/model/model.h"
#include "kvlab/tasks/task_runner.h"
#include "kvlab/tokenizer/tokenizer.h"
#include "test_assets.h"

namespace kvlab {
namespace {

using test::AssetsDir;
namespace fs = std::filesystem;

fs::path RecallDir() { return AssetsDir() / "models" / "recall-char"; }

class RecallChar : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!fs::is_directory(RecallDir())) return;
    model_ = new Model(LoadModel(RecallDir() / "recall.bin"));
    tokenizer_ = LoadTokenizerFile(RecallDir() / "tokenizer.bin").release();
  }
  static void TearDownTestSuite() {
    delete model_;
    delete tokenizer_;
    model_ = nullptr;
    tokenizer_ = nullptr;
  }
  void SetUp() override {
    KVLAB_REQUIRE_ASSETS();
    ASSERT_NE(model_, nullptr) << "no model in " << RecallDir();
  }

  // The reference's command: kvlab generate -p PROMPT -n 4 --temp 0 --kv SPEC.
  static std::string Answer(const std::string& prompt, const std::string& spec) {
    const ModelConfig& c = model_->config();
    std::unique_ptr<KvPolicy> policy = MakePolicy(spec);
    policy->Bind(c.CacheShape());
    GenerateOptions o;
    o.max_new_tokens = 4;
    o.sampler.temperature = 0;
    o.policy = policy.get();
    KvCache cache(c.CacheShape(),
                  RequiredCapacity(policy.get(), static_cast<size_t>(c.max_seq_len), o.prefill_batch),
                  CacheCodecFor(policy.get()));
    return Generate(*model_, tokenizer_, cache, tokenizer_->Encode(prompt, true), o).text;
  }

  static Model* model_;
  static Tokenizer* tokenizer_;
};

Model* RecallChar::model_ = nullptr;
Tokenizer* RecallChar::tokenizer_ = nullptr;

TEST_F(RecallChar, GreedyAnswersMatchTheReferenceUnderEveryPolicy) {
  const nlohmann::json ref = test::ReadJson(AssetsDir() / "reference" / "recall_char_reference.json");
  for (const auto& [spec, accuracy] : ref["accuracy"].items()) {
    int correct = 0, same = 0, n = 0;
    for (const auto& p : ref["prompts"]) {
      const std::string got = Answer(p["prompt"], spec);
      same += got == p["greedy"][spec].get<std::string>();
      correct += got == p["answer"].get<std::string>();
      ++n;
    }
    EXPECT_EQ(same, n) << spec;
    EXPECT_NEAR(static_cast<double>(correct) / n, accuracy.get<double>(), 1e-9) << spec;
  }
}

// The recall_char task of configs/tasks/recall-char.toml at the model's full context: the full cache
// retrieves, a window shorter than the distance to a needle at depth 0 holds none of it and cannot.
TEST_F(RecallChar, TaskRunnerSeparatesWhatTheCacheHolds) {
  const fs::path file = fs::path(KVLAB_SOURCE_DIR) / "configs" / "tasks" / "recall-char.toml";
  const std::vector<TaskSpec> tasks = {FindTask("recall_char", LoadTaskFile(file), "test")};
  TaskGridOptions o;
  o.lengths = {128};
  o.depths = {0.0, 0.5};
  o.samples = 16;
  o.seed = 7;
  const std::vector<TaskCellResult> full = RunTaskGrid(*model_, *tokenizer_, tasks, "full", o);
  const std::vector<TaskCellResult> window = RunTaskGrid(*model_, *tokenizer_, tasks, "window:budget=24", o);
  const std::vector<TaskCellResult> int8 = RunTaskGrid(*model_, *tokenizer_, tasks, "quant:k=int8,v=int8", o);
  ASSERT_EQ(full.size(), 2u);
  for (size_t i = 0; i < full.size(); ++i) {
    EXPECT_TRUE(full[i].has_needles);
    EXPECT_DOUBLE_EQ(full[i].retention, 1.0);  // the full cache holds every token
    EXPECT_DOUBLE_EQ(full[i].merged, 0.0);
    EXPECT_DOUBLE_EQ(int8[i].retention, 1.0);  // a quantized slot still holds its token
    EXPECT_GE(full[i].accuracy, 0.75) << "depth " << full[i].depth;
    EXPECT_LT(window[i].kv_bytes, full[i].kv_bytes);
    EXPECT_GT(full[i].needle_attention, window[i].needle_attention);
  }
  // A needle at depth 0 of a 124-token prompt is ~100 tokens before the question: outside a 24-slot window.
  EXPECT_DOUBLE_EQ(window[0].retention, 0.0);
  EXPECT_DOUBLE_EQ(window[0].needle_attention, 0.0);
  EXPECT_DOUBLE_EQ(window[0].accuracy, 0.0);
}

}  // namespace
}  // namespace kvlab
