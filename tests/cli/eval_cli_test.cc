// `kvlab ppl`, `kvlab fidelity`, `kvlab gen-compare` end to end: JSON rows with provenance, human tables,
// and one-line errors on bad input.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "test_assets.h"

namespace kvlab {
namespace {

using test::AssetsDir;
using test::RunKvlab;
namespace fs = std::filesystem;

void ExpectOneLineError(const test::CommandResult& r, const std::string& needle) {
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(r.err.rfind("kvlab: error: ", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << "expected '" << needle << "' in: " << r.err;
}

void ExpectProvenance(const nlohmann::json& j) {
  for (const char* key : {"git_rev", "machine", "timestamp", "kvlab_version", "model", "text",
                          "tokens_evaluated", "kv", "seed"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
}

class EvalCli : public ::testing::Test {
 protected:
  void SetUp() override { KVLAB_REQUIRE_ASSETS(); }
};

TEST_F(EvalCli, PplVsFullPrintsJsonWithProvenance) {
  auto r = RunKvlab(
      "ppl -m stories260K --text tinystories_val.txt --max-tokens 64 --kv window:budget=16 --vs-full "
      "-t 1 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ExpectProvenance(j);
  EXPECT_EQ(j["command"], "ppl");
  EXPECT_EQ(j["tokens"], 63);
  EXPECT_EQ(j["kv"], "window:budget=16");
  for (const char* key : {"ppl", "nll_mean", "ppl_full", "ppl_ratio", "kl_mean", "kl_median", "kl_p99",
                          "kl_max", "top1_agreement", "rms_dp", "kv_bytes", "kv_bytes_full"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_GT(j["kl_mean"].get<double>(), 0.0);
}

TEST_F(EvalCli, PplOfFullVsFullReportsZeroKlAndWritesJsonFile) {
  const fs::path out = test::TempDir("ppl_cli") / "ppl.json";
  auto r = RunKvlab("ppl -m stories260K --text tinystories_val.txt --max-tokens 48 --vs-full -t 1 --json '" +
                    out.string() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("top-1 1.0000"), std::string::npos) << r.out;  // the table is printed too
  const auto j = test::ReadJson(out);
  EXPECT_EQ(j["kl_max"].get<double>(), 0.0);
  EXPECT_EQ(j["top1_agreement"].get<double>(), 1.0);
  EXPECT_FALSE(fs::exists(out.string() + ".tmp"));
}

TEST_F(EvalCli, PplWindowedAndIdsInput) {
  const fs::path ids = test::TempDir("ppl_ids") / "ids.txt";
  {
    std::ofstream f(ids);
    const auto ref = test::ReadJson(AssetsDir() / "reference" / "tinystories_models_reference.json");
    f << ref["stories260K"]["eval"]["token_ids"].dump();
  }
  auto r = RunKvlab("ppl -m stories260K --ids '" + ids.string() + "' -t 1 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["tokens"], 448);
  EXPECT_NEAR(j["nll_mean"].get<double>(), 1.337845264881326, 1e-5);
  r = RunKvlab("ppl -m stories260K --text tinystories_val.txt --windowed -c 64 --max-tokens 256 -t 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("windowed"), std::string::npos);
  EXPECT_NE(r.out.find("tokens scored 124"), std::string::npos) << r.out;  // 4 windows x 31
  r = RunKvlab(
      "ppl -m stories260K --text tinystories_val.txt --windowed -c 64 --stride 32 --max-tokens 160 -t 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("tokens scored 96"), std::string::npos) << r.out;  // ceil(96 / 32) = 3 windows x 32
}

TEST_F(EvalCli, FidelityPrintsLayersAndJson) {
  auto r = RunKvlab(
      "fidelity -m stories260K --text tinystories_val.txt --max-tokens 96 --warmup 32 --stride 16 "
      "--kv window:budget=32 --layers 1,3 -t 1 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ExpectProvenance(j);
  ASSERT_EQ(j["layers"].size(), 2u);
  EXPECT_EQ(j["layers"][1]["layer"], 3);
  for (const char* key :
       {"retained_mass", "kl", "cosine", "l1", "l2", "argmax_agreement", "output_rel_error"}) {
    EXPECT_TRUE(j["mean"].contains(key)) << key;
  }
  EXPECT_LT(j["mean"]["retained_mass"].get<double>(), 1.0);
  r = RunKvlab(
      "fidelity -m stories260K --text tinystories_val.txt --max-tokens 80 --warmup 16 -t 1 --per-head");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("L2/h0"), std::string::npos) << r.out;
}

TEST_F(EvalCli, GenComparePrintsAgreementAndJson) {
  auto r = RunKvlab(
      "gen-compare -m stories260K --prompts tinystories_val.txt --n-prompts 2 --prompt-tokens 8 -n 12 "
      "--kv window:budget=8 -t 1 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ExpectProvenance(j);
  EXPECT_EQ(j["prompts"], 2);
  ASSERT_EQ(j["per_prompt"].size(), 2u);
  EXPECT_EQ(j["per_prompt"][0]["full_ids"].size(), 12u);
  for (const char* key : {"mean_agreement_tokens", "bleu", "rouge_l"}) EXPECT_TRUE(j.contains(key)) << key;
  r = RunKvlab("gen-compare -m stories260K -p 'Once upon a time' -n 8 -t 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("corpus BLEU 1.0000"), std::string::npos) << r.out;
}

TEST_F(EvalCli, BadInputGivesOneLineErrors) {
  ExpectOneLineError(RunKvlab("ppl -m stories260K --text tinystories_val.txt --kv nonsense"), "--kv");
  ExpectOneLineError(RunKvlab("ppl -m stories260K --text no-such-text.txt"), "--text");
  ExpectOneLineError(RunKvlab("ppl -m shakespeare-char-gpt2 --text tinyshakespeare.txt -c 1000"), "--ctx");
  ExpectOneLineError(
      RunKvlab("ppl -m shakespeare-char-gpt2 --text tinyshakespeare.txt --stream-past-context"),
      "--stream-past-context");
  const fs::path empty = test::TempDir("eval_cli_empty") / "empty.txt";
  std::ofstream(empty).close();
  ExpectOneLineError(RunKvlab("ppl -m stories260K --text '" + empty.string() + "'"), "empty");
  ExpectOneLineError(RunKvlab("fidelity -m stories260K --text tinystories_val.txt --layers 7"), "--layers");
  ExpectOneLineError(RunKvlab("fidelity -m stories260K --text tinystories_val.txt --max-tokens 10"),
                     "--warmup");
  ExpectOneLineError(RunKvlab("gen-compare -m stories260K"), "--prompts");
  ExpectOneLineError(RunKvlab("ppl -m stories260K --text tinystories_val.txt --stride 8"), "--stride");
  const fs::path out = test::TempDir("eval_cli_bad_json") / "out.json";
  ExpectOneLineError(RunKvlab("ppl -m stories260K --text tinystories_val.txt --kv window:budget=0 --json '" +
                              out.string() + "'"),
                     "--kv");
  EXPECT_FALSE(fs::exists(out));
}

}  // namespace
}  // namespace kvlab
