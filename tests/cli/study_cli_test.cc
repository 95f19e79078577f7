// configs/study.toml, the original study's protocols for GPT-2 124M: the file holds the study's settings,
// and its [quick] table runs every protocol end to end on a random-weight model of GPT-2 124M's shape with
// the GPT-2 tokenizer (plumbing only: random weights measure nothing).
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "kvlab/sweep/sweep_config.h"
#include "test_assets.h"

namespace kvlab::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

fs::path StudyConfig() { return fs::path(KVLAB_SOURCE_DIR) / "configs" / "study.toml"; }

std::vector<json> Rows(const fs::path& results) {
  std::ifstream in(results);
  std::vector<json> rows;
  for (std::string line; std::getline(in, line);) rows.push_back(json::parse(line));
  return rows;
}

TEST(StudyConfig, HoldsTheStudysProtocols) {
  const SweepConfig c = ParseSweepConfig(StudyConfig());
  EXPECT_EQ(c.models, std::vector<std::string>{"gpt2"});
  EXPECT_EQ(c.texts, std::vector<std::string>{"wikitext-2"});
  const SweepMetrics& m = c.metrics;
  // (a) 50-token prompts generated to 256 and 512 tokens in all.
  EXPECT_TRUE(m.generation);
  EXPECT_EQ(m.generation_prompt_tokens, 50);
  EXPECT_EQ(m.generation_lengths, (std::vector<int64_t>{256, 512}));
  // (b) attention at layer 6, warm-up 64, stride 16, up to 256 tokens.
  EXPECT_TRUE(m.fidelity);
  EXPECT_EQ(m.fidelity_layers, std::vector<int64_t>{6});
  EXPECT_EQ(m.fidelity_warmup, 64);
  EXPECT_EQ(m.fidelity_stride, 16);
  EXPECT_EQ(m.fidelity_tokens, 256);
  // The quick table keeps the study's sampling and prompt length, and shortens everything else.
  const SweepConfig q = ParseSweepConfig(StudyConfig(), "quick");
  EXPECT_EQ(q.metrics.fidelity_layers, std::vector<int64_t>{6});
  EXPECT_EQ(q.metrics.fidelity_warmup, 64);
  EXPECT_EQ(q.metrics.fidelity_stride, 16);
  EXPECT_EQ(q.metrics.generation_prompt_tokens, 50);
  EXPECT_EQ(q.metrics.generation_lengths, std::vector<int64_t>{64});
}

// (c) every sketch of the full grid has width 512, depth 4 and top-k 64 (the dry run expands and checks
// every spec without loading the model, so an empty directory stands for the user's gpt2).
TEST(StudyCli, GridHasTheStudysSketches) {
  KVLAB_REQUIRE_ASSETS();
  const fs::path model = TempDir("study_cli_grid") / "gpt2";
  fs::create_directories(model);
  const CommandResult r = RunKvlab("sweep " + Quote(StudyConfig()) + " --dry-run --model " + Quote(model));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream lines(r.out);
  int sketches = 0, points = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.find(" " + model.string() + " wikitext-2 ") == std::string::npos) continue;
    ++points;
    if (line.find(" sketch:") == std::string::npos) continue;
    ++sketches;
    for (const char* key : {",width=512,", ",depth=4,", ",topk=64,"})
      EXPECT_NE(line.find(key), std::string::npos) << key << " missing in " << line;
  }
  EXPECT_EQ(sketches, 4);  // cms and cs at two budgets
  EXPECT_EQ(points, 11);
  EXPECT_NE(r.out.find("sketch:type=cs,"), std::string::npos) << r.out;  // count_sketch, canonically cs
}

TEST(StudyCli, QuickRunsEveryProtocolOnARandomGpt2Of124MShape) {
  KVLAB_REQUIRE_ASSETS();
  const fs::path dir = TempDir("study_cli");
  const fs::path model = dir / "gpt2", out = dir / "study.jsonl";
  // f32 like the Hugging Face checkpoint, so the same loader path; 500 MB, removed however the test ends.
  struct RemoveModel {
    fs::path dir;
    ~RemoveModel() { fs::remove_all(dir); }
  } remove_model{model};
  const CommandResult init = RunKvlab("init --preset gpt2-124m --out " + Quote(model));
  ASSERT_EQ(init.exit_code, 0) << init.err;
  for (const char* f : {"encoder.json", "vocab.bpe"})
    fs::copy_file(AssetsDir() / "tokenizers" / "gpt2" / f, model / f);

  // One thread: on a machine whose cores are busy with other work, a thread pool waiting on a busy core took
  // 44-62 s for this sweep where one thread took 8 s (2-core VM; 10-15 s for the whole test).
  const CommandResult r = RunKvlab("sweep " + Quote(StudyConfig()) + " --quick -t 1 --model " + Quote(model) +
                                   " --out " + Quote(out));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<json> rows = Rows(out);
  ASSERT_EQ(rows.size(), 2u);
  const char* types[] = {"cms", "cs"};
  for (size_t i = 0; i < rows.size(); ++i) {
    const json& row = rows[i];
    SCOPED_TRACE(row.dump());
    EXPECT_EQ(row["model"], model.string());
    EXPECT_EQ(row["text"], "wikitext-2");
    // (c) the sketch.
    EXPECT_EQ(row["sketch_type"], types[i]);
    EXPECT_EQ(row["sketch_width"], 512);
    EXPECT_EQ(row["sketch_depth"], 4);
    EXPECT_EQ(row["sketch_topk"], 64);
    // (b) attention at layer 6 only, sampled at 64 and 80 (warm-up 64, stride 16) below 88 tokens.
    ASSERT_EQ(row["fidelity_layers"].size(), 1u);
    EXPECT_EQ(row["fidelity_layers"][0]["layer"], 6);
    EXPECT_EQ(row["fidelity_layers"][0]["samples"], 2);
    for (const char* k : {"retained_mass", "attn_kl", "attn_cosine", "argmax_agreement", "output_rel_error"})
      EXPECT_TRUE(row.contains(k)) << k;
    // (a) a 50-token prompt generated to 64 tokens in all, under the sketch and under the full cache.
    ASSERT_EQ(row["generation"].size(), 1u);
    const json& g = row["generation"][0];
    EXPECT_EQ(g["total_tokens"], 64);
    EXPECT_EQ(g["prompt_tokens"], 50);
    EXPECT_EQ(g["new_tokens"], 14);
    EXPECT_EQ(g["prompts"], 1);
    ASSERT_EQ(g["per_prompt"].size(), 1u);
    // 64 tokens fit the 80-slot budget: nothing is evicted, so the sketch continues exactly as full does.
    EXPECT_EQ(g["agreement_tokens"], 14.0);
    EXPECT_EQ(g["bleu"], 1.0);
    EXPECT_EQ(g["rouge_l"], 1.0);
    for (const char* k : {"gen_agreement_tokens", "gen_bleu", "gen_rouge_l"})
      EXPECT_TRUE(row.contains(k)) << k;
    EXPECT_FALSE(row.contains("ppl"));  // [quick] turns quality and vs_full off
  }
  EXPECT_NE(r.out.find("gen BLEU"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace kvlab::test
