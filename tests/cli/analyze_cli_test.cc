// kvlab analyze end to end on the tiny shared models: every mode runs and its numbers pass checks that
// can be worked out by hand (full-rank Tucker is exact, pruning nothing changes nothing, keeping every
// dimension changes nothing, head types cover every head), and bad input fails with one line.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "test_assets.h"

namespace kvlab {
namespace {

namespace fs = std::filesystem;
using test::AssetsDir;
using test::RunKvlab;

using test::Quote;

fs::path Text() { return AssetsDir() / "text" / "tinystories_val.txt"; }

void ExpectOneLineError(const test::CommandResult& r, const std::string& needle) {
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(r.err.rfind("kvlab: error: ", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << "expected '" << needle << "' in: " << r.err;
}

nlohmann::json Column(const nlohmann::json& j, const std::string& name) {
  const auto& cols = j["table"]["columns"];
  nlohmann::json out = nlohmann::json::array();
  for (size_t i = 0; i < cols.size(); ++i) {
    if (cols[i] == name) {
      for (const auto& row : j["table"]["rows"]) out.push_back(row[i]);
    }
  }
  return out;
}

class AnalyzeAllModes : public testing::TestWithParam<const char*> {};

TEST_P(AnalyzeAllModes, EveryModeWritesJsonAndCsvWithSaneNumbers) {
  KVLAB_REQUIRE_ASSETS();
  const fs::path out = test::TempDir(std::string("analyze_") + GetParam());
  auto r = RunKvlab(std::string("analyze -m ") + GetParam() + " --text " + Quote(Text()) +
                    " --mode all --max-tokens 40 --prompt-tokens 16 -t 1 --out " + Quote(out));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* mode : {"layers", "heads", "tokens", "embeddings", "generation", "similarity", "tucker",
                           "prune", "compress-dims"}) {
    ASSERT_TRUE(fs::is_regular_file(out / (std::string(mode) + ".csv"))) << mode;
    const auto j = test::ReadJson(out / (std::string(mode) + ".json"));
    EXPECT_EQ(j["mode"], mode);
    EXPECT_EQ(j["tokens"], 40);
    EXPECT_FALSE(j["table"]["rows"].empty()) << mode;
  }
  EXPECT_FALSE(fs::exists(out / "layers.json.tmp"));
  const auto cfg = test::ReadJson(out / "layers.json")["config"];
  const int L = cfg["n_layers"], H = cfg["n_heads"], KV = cfg["n_kv_heads"];

  // heads: one row per (layer, head), every head typed, entropy within [0, log 40].
  const auto heads = test::ReadJson(out / "heads.json");
  EXPECT_EQ(heads["table"]["rows"].size(), static_cast<size_t>(L * H));
  const auto& counts = heads["type_counts"];
  EXPECT_EQ(counts["sink"].get<int>() + counts["local"].get<int>() + counts["global"].get<int>(), L * H);
  for (const auto& e : Column(heads, "entropy")) {
    EXPECT_GE(e.get<double>(), 0.0);
    EXPECT_LE(e.get<double>(), std::log(40.0) + 1e-6);
  }
  // layers: prunable shares are shares.
  for (const auto& p : Column(test::ReadJson(out / "layers.json"), "prune_potential_90")) {
    EXPECT_GE(p.get<double>(), 0.0);
    EXPECT_LT(p.get<double>(), 1.0);
  }
  // tokens: one row per position; the mean attention received by position 0 is at least the uniform share.
  const auto tokens = test::ReadJson(out / "tokens.json");
  EXPECT_EQ(tokens["table"]["rows"].size(), 40u);
  // generation: three stages per layer after a 16-token prompt.
  const auto gen = test::ReadJson(out / "generation.json");
  EXPECT_EQ(gen["prompt_tokens"], 16);
  EXPECT_EQ(gen["generated_tokens"], 24);
  EXPECT_EQ(gen["table"]["rows"].size(), static_cast<size_t>(3 * L));
  // similarity: a layer's K is identical to itself.
  const auto sim = test::ReadJson(out / "similarity.json");
  for (int l = 0; l < L; ++l) EXPECT_NEAR(sim["cross_layer_k"][l][l].get<double>(), 1.0, 1e-6);
  // prune with nothing given: exactly the unpruned perplexity, KL 0.
  const auto prune = test::ReadJson(out / "prune.json");
  EXPECT_EQ(prune["spec"], "none");
  EXPECT_EQ(prune["pruned"]["ppl"].get<double>(), prune["ppl_full"].get<double>());
  EXPECT_EQ(prune["pruned"]["kl_mean"].get<double>(), 0.0);
  EXPECT_EQ(prune["head_kl"].size(), static_cast<size_t>(L));
  EXPECT_EQ(prune["head_kl"][0].size(), static_cast<size_t>(KV));
  for (const auto& kl : prune["layer_kl"]) EXPECT_GT(kl.get<double>(), 0.0);  // removing a layer matters
  // compress-dims: keeping every dimension is the full cache, bit for bit.
  const auto dims = test::ReadJson(out / "compress-dims.json");
  const int head_dim = cfg["head_dim"];
  const auto kept = Column(dims, "kept_dims"), kl = Column(dims, "kl_mean"),
             change = Column(dims, "ppl_change");
  bool saw_full = false;
  for (size_t i = 0; i < kept.size(); ++i) {
    if (kept[i] == head_dim) {
      EXPECT_EQ(kl[i].get<double>(), 0.0);
      EXPECT_EQ(change[i].get<double>(), 0.0);
      saw_full = true;
    } else {
      EXPECT_GE(kl[i].get<double>(), 0.0);
    }
  }
  EXPECT_TRUE(saw_full);
  // tucker: default ranks are half of each mode's useful rank (tokens: min(40, kv_heads * head_dim));
  // errors in (0, 1]; the full-rank sweep point is exact.
  const auto tucker = test::ReadJson(out / "tucker.json");
  EXPECT_EQ(tucker["ranks"][0], (std::min(40, KV * cfg["head_dim"].get<int>()) + 1) / 2);
  EXPECT_EQ(tucker["ranks"][1], (KV + 1) / 2);
  for (const auto& e : Column(tucker, "rel_error")) {
    EXPECT_GT(e.get<double>(), 0.0);
    EXPECT_LE(e.get<double>(), 1.0);
  }
  const auto& last = tucker["rank_sweep"].back();
  EXPECT_EQ(last["fraction"], 1.0);
  EXPECT_LT(last["rel_error_k_mean"].get<double>(), 1e-5);
  EXPECT_LT(last["rel_error_v_mean"].get<double>(), 1e-5);
  EXPECT_LT(std::fabs(last["ppl_change"].get<double>()), 1e-3 * tucker["ppl_full"].get<double>());
}

INSTANTIATE_TEST_SUITE_P(TinyModels, AnalyzeAllModes, testing::Values("stories260K", "tinystories-656k"),
                         [](const auto& info) {
                           return std::string(info.param) == "stories260K" ? "stories260K"
                                                                           : "tinystories656k";
                         });

TEST(AnalyzeCli, TuckerWithFullRanksReconstructsExactly) {
  KVLAB_REQUIRE_ASSETS();
  const fs::path out = test::TempDir("analyze_tucker_full");
  // stories260K: 4 kv heads of dimension 8.
  auto r = RunKvlab("analyze -m stories260K --text " + Quote(Text()) +
                    " --mode tucker --max-tokens 24 --tucker-ranks 24,4,8 -t 1 --out " + Quote(out));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = test::ReadJson(out / "tucker.json");
  for (const auto& e : Column(j, "rel_error")) EXPECT_LT(e.get<double>(), 1e-5);
  EXPECT_LT(j["compression_ratio"].get<double>(), 1.0);  // full ranks store more than the tensor
  EXPECT_LT(std::fabs(j["all_layers"]["ppl_change"].get<double>()), 1e-3 * j["ppl_full"].get<double>());
}

TEST(AnalyzeCli, PruningALayerAndAHeadChangesTheModel) {
  KVLAB_REQUIRE_ASSETS();
  const fs::path out = test::TempDir("analyze_prune");
  auto r = RunKvlab("analyze -m stories260K --text " + Quote(Text()) +
                    " --mode prune --max-tokens 24 --prune-layers 1 --prune-heads 0:2,3:1 -t 1 --out " +
                    Quote(out));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = test::ReadJson(out / "prune.json");
  EXPECT_EQ(j["spec"], "layers=1 heads=0:2,3:1");
  EXPECT_GT(j["pruned"]["kl_mean"].get<double>(), 0.0);
  EXPECT_NE(j["pruned"]["ppl"].get<double>(), j["ppl_full"].get<double>());
}

TEST(AnalyzeCli, BadInputIsOneLineErrorAndWritesNothing) {
  KVLAB_REQUIRE_ASSETS();
  const fs::path out = test::TempDir("analyze_bad");
  const std::string base =
      "analyze -m stories260K --text " + Quote(Text()) + " --max-tokens 16 --out " + Quote(out / "x");
  ExpectOneLineError(RunKvlab(base + " --mode nonsense"), "nonsense");
  ExpectOneLineError(RunKvlab(base + " --mode tucker --tucker-ranks 1,2"), "--tucker-ranks");
  ExpectOneLineError(RunKvlab(base + " --mode tucker --tucker-ranks 99,1,1"), "--tucker-ranks");
  ExpectOneLineError(RunKvlab(base + " --mode prune --prune-heads 0:9"), "--prune-heads");
  ExpectOneLineError(RunKvlab(base + " --mode prune --prune-layers x"), "--prune-layers");
  ExpectOneLineError(RunKvlab("analyze -m stories260K --mode layers --text " + Quote(out / "missing.txt")),
                     "--text");
  EXPECT_FALSE(fs::exists(out / "x" / "tucker.json"));
  EXPECT_FALSE(fs::exists(out / "x" / "prune.json"));
}

}  // namespace
}  // namespace kvlab
