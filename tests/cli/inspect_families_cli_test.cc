// `kvlab init` then `kvlab inspect` for the families beyond Llama: the family features a preset sets come out
// of inspect's JSON and text, read back from the written checkpoint.
#include <gtest/gtest.h>

#include <string>

#include "test_assets.h"

namespace kvlab {
namespace {

using test::RunKvlab;
namespace fs = std::filesystem;

// `kvlab init` of a preset into a fresh directory; returns the quoted path.
std::string InitPreset(const std::string& preset) {
  const fs::path dir = test::TempDir("cli-inspect-" + preset) / "m";
  const auto r = RunKvlab("init --preset " + preset + " --out '" + dir.string() + "'");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return "'" + dir.string() + "'";
}

nlohmann::json InspectJson(const std::string& model) {
  const auto r = RunKvlab("inspect --json " + model);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return nlohmann::json::parse(r.out);
}

TEST(InspectFamilies, Gemma3FeaturesInJsonAndText) {
  const std::string model = InitPreset("gemma3-tiny");  // layer 2 global, window 16, query_pre_attn_scalar 32
  const auto j = InspectJson(model);
  EXPECT_EQ(j["architecture"], "gemma3");
  EXPECT_EQ(j["sliding_window"], 16);
  EXPECT_EQ(j["sliding_window_layers"], nlohmann::json({0, 1, 3}));
  EXPECT_EQ(j["rope_local_theta"], 10000.0);
  EXPECT_EQ(j["rope_scaling"]["type"], "none");
  EXPECT_EQ(j["qk_norm"], true);
  EXPECT_EQ(j["sandwich_norms"], true);
  EXPECT_EQ(j["embed_scale"], 8.0);  // sqrt(64)
  EXPECT_NEAR(j["attention_scale"].get<double>(), 0.1767767, 1e-6);
  EXPECT_TRUE(j["attn_softcap"].is_null());
  EXPECT_EQ(j["n_kv_heads"], 2);  // existing keys stay
  const auto text = RunKvlab("inspect " + model);
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("sliding_window_layers        0-1,3\n"), std::string::npos) << text.out;
}

TEST(InspectFamilies, RopeScalingBiasesAndCaps) {
  const auto llama3 = InspectJson(InitPreset("llama3-tiny"));
  EXPECT_EQ(llama3["rope_scaling"], nlohmann::json({{"type", "llama3"},
                                                    {"factor", 8.0},
                                                    {"low_freq_factor", 1.0},
                                                    {"high_freq_factor", 4.0},
                                                    {"original_max_positions", 32}}));
  EXPECT_TRUE(llama3["sliding_window"].is_null());
  EXPECT_EQ(llama3["sliding_window_layers"], nlohmann::json::array());
  const auto qwen2 = InspectJson(InitPreset("qwen2-tiny"));
  EXPECT_EQ(qwen2["qkv_bias"], true);
  EXPECT_EQ(qwen2["qk_norm"], false);
  const auto gemma2 = InspectJson(InitPreset("gemma2-tiny"));
  EXPECT_EQ(gemma2["attn_softcap"], 50.0);
  EXPECT_EQ(gemma2["final_softcap"], 30.0);
  EXPECT_EQ(gemma2["sliding_window_layers"], nlohmann::json({0, 2}));
  EXPECT_TRUE(gemma2["rope_local_theta"].is_null());
}

}  // namespace
}  // namespace kvlab
