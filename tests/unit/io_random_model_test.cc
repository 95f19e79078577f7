// Presets, the random-weight generator and `init`'s directory handling (atomic, refuses to clobber).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "io_test_writers.h"
#include "kvlab/model/presets.h"
#include "kvlab/model/random_model.h"
#include "test_assets.h"

namespace kvlab::test {
namespace {

namespace fs = std::filesystem;

TEST(PresetsTest, AllValidAndFindable) {
  for (const ModelPreset& p : ModelPresets()) EXPECT_NO_THROW(ValidateConfig(p.config, p.name));
  for (const char* name :
       {"llama-110m", "llama-15m", "gpt2-124m", "llama-tiny", "gpt2-tiny", "qwen3-tiny", "gemma3-tiny"}) {
    const ModelPreset& p = FindModelPreset(name);
    EXPECT_EQ(p.name, name);
    EXPECT_NO_THROW(ValidateConfig(p.config, p.name));
  }
  const ModelConfig& l = FindModelPreset("llama-110m").config;
  EXPECT_EQ(l.dim, 768);
  EXPECT_EQ(l.n_layers, 12);
  EXPECT_EQ(l.ffn_dim, 2048);
  EXPECT_EQ(l.vocab_size, 32000);
  EXPECT_EQ(l.max_seq_len, 1024);
  const ModelConfig& s = FindModelPreset("llama-15m").config;
  EXPECT_EQ(s.dim, 288);
  EXPECT_EQ(s.n_heads, 6);
  EXPECT_EQ(s.max_seq_len, 256);
  const ModelConfig& g = FindModelPreset("gpt2-124m").config;
  EXPECT_EQ(g.vocab_size, 50257);
  EXPECT_EQ(g.ffn_dim, 3072);
  EXPECT_EQ(g.activation, Activation::kGeluTanh);
  EXPECT_TRUE(g.tied_embeddings);
  ExpectError([] { FindModelPreset("llama-7b"); }, {"--preset", "unknown preset llama-7b", "llama-tiny"});
}

// The released models' shapes and features, as their Hugging Face config.json files state them.
TEST(PresetsTest, ReleasedModelsMatchTheirConfigs) {
  const ModelConfig& l = FindModelPreset("llama-3.2-1b").config;
  EXPECT_EQ(l.arch, Arch::kLlama);
  EXPECT_EQ(l.dim, 2048);
  EXPECT_EQ(l.n_layers, 16);
  EXPECT_EQ(l.n_heads, 32);
  EXPECT_EQ(l.n_kv_heads, 8);
  EXPECT_EQ(l.head_dim, 64);
  EXPECT_EQ(l.ffn_dim, 8192);
  EXPECT_EQ(l.vocab_size, 128256);
  EXPECT_EQ(l.max_seq_len, 131072);
  EXPECT_EQ(l.rope_theta, 500000.0f);
  EXPECT_EQ(l.rope_scaling.type, RopeScalingType::kLlama3);
  EXPECT_EQ(l.rope_scaling.factor, 32.0f);
  EXPECT_EQ(l.rope_scaling.low_freq_factor, 1.0f);
  EXPECT_EQ(l.rope_scaling.high_freq_factor, 4.0f);
  EXPECT_EQ(l.rope_scaling.original_max_positions, 8192);
  EXPECT_TRUE(l.tied_embeddings);
  EXPECT_EQ(l.bos_id, 128000);

  const ModelConfig& q2 = FindModelPreset("qwen2.5-0.5b").config;
  EXPECT_EQ(q2.arch, Arch::kQwen2);
  EXPECT_EQ(q2.dim, 896);
  EXPECT_EQ(q2.n_layers, 24);
  EXPECT_EQ(q2.n_heads, 14);
  EXPECT_EQ(q2.n_kv_heads, 2);
  EXPECT_EQ(q2.head_dim, 64);
  EXPECT_EQ(q2.ffn_dim, 4864);
  EXPECT_EQ(q2.vocab_size, 151936);
  EXPECT_EQ(q2.max_seq_len, 32768);
  EXPECT_EQ(q2.rope_theta, 1e6f);
  EXPECT_TRUE(q2.qkv_bias);
  EXPECT_TRUE(q2.tied_embeddings);
  EXPECT_FALSE(q2.AnySlidingLayer());

  const ModelConfig& q3 = FindModelPreset("qwen3-0.6b").config;
  EXPECT_EQ(q3.arch, Arch::kQwen3);
  EXPECT_EQ(q3.dim, 1024);
  EXPECT_EQ(q3.n_layers, 28);
  EXPECT_EQ(q3.n_heads, 16);
  EXPECT_EQ(q3.n_kv_heads, 8);
  EXPECT_EQ(q3.head_dim, 128);
  EXPECT_EQ(q3.ffn_dim, 3072);
  EXPECT_EQ(q3.vocab_size, 151936);
  EXPECT_EQ(q3.max_seq_len, 40960);
  EXPECT_TRUE(q3.qk_norm);
  EXPECT_FALSE(q3.qkv_bias);
  EXPECT_TRUE(q3.tied_embeddings);

  const ModelConfig& g = FindModelPreset("gemma-3-1b").config;
  EXPECT_EQ(g.arch, Arch::kGemma3);
  EXPECT_EQ(g.dim, 1152);
  EXPECT_EQ(g.n_layers, 26);
  EXPECT_EQ(g.n_heads, 4);
  EXPECT_EQ(g.n_kv_heads, 1);
  EXPECT_EQ(g.head_dim, 256);
  EXPECT_EQ(g.ffn_dim, 6912);
  EXPECT_EQ(g.vocab_size, 262144);
  EXPECT_EQ(g.max_seq_len, 32768);
  EXPECT_FLOAT_EQ(g.AttentionScale(), 1.0f / 16.0f);  // query_pre_attn_scalar 256
  EXPECT_EQ(g.rope_theta, 1e6f);
  EXPECT_EQ(g.rope_local_theta, 1e4f);
  EXPECT_EQ(g.rope_scaling.type, RopeScalingType::kNone);
  EXPECT_FLOAT_EQ(g.norm_eps, 1e-6f);
  EXPECT_EQ(g.activation, Activation::kGeluTanh);
  EXPECT_TRUE(g.tied_embeddings);
  for (size_t i = 0; i < 26; ++i) EXPECT_EQ(g.Window(i), i % 6 == 5 ? 0 : 512) << "layer " << i;

  const ModelConfig& m = FindModelPreset("mistral-7b").config;
  EXPECT_EQ(m.arch, Arch::kMistral);
  EXPECT_EQ(m.dim, 4096);
  EXPECT_EQ(m.n_layers, 32);
  EXPECT_EQ(m.n_heads, 32);
  EXPECT_EQ(m.n_kv_heads, 8);
  EXPECT_EQ(m.ffn_dim, 14336);
  EXPECT_EQ(m.vocab_size, 32000);
  EXPECT_EQ(m.max_seq_len, 32768);
  EXPECT_EQ(m.rope_theta, 1e4f);
  EXPECT_FALSE(m.tied_embeddings);
  EXPECT_EQ(m.layer_window, std::vector<int32_t>(32, 4096));

  const ModelConfig& p = FindModelPreset("phi-3-mini").config;
  EXPECT_EQ(p.arch, Arch::kPhi3);
  EXPECT_EQ(p.dim, 3072);
  EXPECT_EQ(p.n_layers, 32);
  EXPECT_EQ(p.n_heads, 32);
  EXPECT_EQ(p.n_kv_heads, 32);
  EXPECT_EQ(p.ffn_dim, 8192);
  EXPECT_EQ(p.vocab_size, 32064);
  EXPECT_EQ(p.max_seq_len, 4096);
  EXPECT_EQ(p.rope_theta, 1e4f);
  EXPECT_FALSE(p.tied_embeddings);
  EXPECT_EQ(p.layer_window, std::vector<int32_t>(32, 2047));
}

// Tiny presets keep their token ids inside their vocabulary.
TEST(PresetsTest, TokenIdsFitTheVocabulary) {
  for (const ModelPreset& p : ModelPresets()) {
    EXPECT_LT(p.config.bos_id, p.config.vocab_size) << p.name;
    EXPECT_LT(p.config.eos_id, p.config.vocab_size) << p.name;
  }
}

TEST(RandomModelTest, NormalValuesAreDeterministicPerName) {
  std::vector<float> a(20000), b(20000), c(20000), d(20000);
  FillRandomNormal(7, "w", 0.02f, a);
  FillRandomNormal(7, "w", 0.02f, b);
  FillRandomNormal(7, "other", 0.02f, c);
  FillRandomNormal(8, "w", 0.02f, d);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_NE(a, d);
  double sum = 0, sq = 0;
  for (float v : a) {
    sum += v;
    sq += double{v} * v;
  }
  const double mean = sum / a.size(), sd = std::sqrt(sq / a.size() - mean * mean);
  EXPECT_NEAR(mean, 0.0, 0.001);
  EXPECT_NEAR(sd, 0.02, 0.001);
}

ModelConfig Tiny() { return FindModelPreset("llama-tiny").config; }

// Entries in `dir` other than those listed (to catch leftover staging or .tmp files).
std::vector<std::string> Names(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(RandomModelTest, InitCreatesDirectoryAtomically) {
  const auto parent = TempDir("init");
  InitRandomModelDir(Tiny(), parent / "m", {}, /*force=*/false);
  EXPECT_EQ(Names(parent), std::vector<std::string>{"m"});
  EXPECT_EQ(Names(parent / "m"), (std::vector<std::string>{"config.json", "model.safetensors"}));
  // An empty existing directory is fine; so is a nested path that does not exist yet.
  fs::create_directory(parent / "empty");
  InitRandomModelDir(Tiny(), parent / "empty/", {}, false);
  EXPECT_EQ(Names(parent / "empty").size(), 2u);
  InitRandomModelDir(Tiny(), parent / "a/b/c", {}, false);
  EXPECT_TRUE(fs::exists(parent / "a/b/c/config.json"));
}

TEST(RandomModelTest, InitRefusesNonEmptyDirectoryWithoutForce) {
  const auto dir = TempDir("init-busy");
  WriteFile(dir / "notes.txt", std::string("keep me"));
  ExpectError([&] { InitRandomModelDir(Tiny(), dir, {}, false); }, {dir.string(), "not empty", "--force"});
  EXPECT_EQ(Names(dir), std::vector<std::string>{"notes.txt"});
  InitRandomModelDir(Tiny(), dir, {}, /*force=*/true);
  EXPECT_EQ(Names(dir), (std::vector<std::string>{"config.json", "model.safetensors", "notes.txt"}));
  const std::string staging_prefix = "." + dir.filename().string() + ".kvlab-init-";
  for (const auto& name : Names(dir.parent_path())) EXPECT_NE(name.rfind(staging_prefix, 0), 0u) << name;
  WriteFile(dir / "file", std::string("x"));
  ExpectError([&] { InitRandomModelDir(Tiny(), dir / "file", {}, true); }, {"file", "not a directory"});
}

TEST(RandomModelTest, LayoutMatchesHuggingFaceNames) {
  const auto llama = HfTensorLayout(FindModelPreset("llama-tiny").config);
  EXPECT_EQ(llama.front().name, "model.embed_tokens.weight");
  EXPECT_EQ(llama.back().name, "lm_head.weight");  // llama-tiny is untied
  const auto gpt2 = HfTensorLayout(FindModelPreset("gpt2-tiny").config);
  bool found = false;
  for (const auto& t : gpt2) {
    if (t.name == "transformer.h.1.mlp.c_fc.weight") {
      found = true;
      EXPECT_EQ(t.shape, (std::vector<int64_t>{64, 256}));  // Conv1D [in][out]
    }
    EXPECT_NE(t.name, "lm_head.weight");  // tied
  }
  EXPECT_TRUE(found);
}

// name -> spec of one layout.
std::map<std::string, HfTensorSpec> ByName(const std::vector<HfTensorSpec>& layout) {
  std::map<std::string, HfTensorSpec> out;
  for (const HfTensorSpec& t : layout) EXPECT_TRUE(out.emplace(t.name, t).second) << "duplicate " << t.name;
  return out;
}

TEST(RandomModelTest, LayoutHoldsEachFamilysTensors) {
  const auto qwen2 = ByName(HfTensorLayout(FindModelPreset("qwen2-tiny").config));  // 4 heads / 2 kv of 16
  ASSERT_TRUE(qwen2.count("model.layers.1.self_attn.q_proj.bias"));
  EXPECT_EQ(qwen2.at("model.layers.1.self_attn.q_proj.bias").shape, std::vector<int64_t>{64});
  EXPECT_EQ(qwen2.at("model.layers.1.self_attn.k_proj.bias").shape, std::vector<int64_t>{32});
  EXPECT_EQ(qwen2.at("model.layers.1.self_attn.v_proj.bias").init, TensorInit::kNormal);
  EXPECT_FALSE(qwen2.count("lm_head.weight"));  // tied
  EXPECT_FALSE(qwen2.count("model.layers.0.self_attn.q_norm.weight"));

  const auto qwen3 = ByName(HfTensorLayout(FindModelPreset("qwen3-tiny").config));  // head_dim 32
  EXPECT_EQ(qwen3.at("model.layers.0.self_attn.k_norm.weight").shape, std::vector<int64_t>{32});
  EXPECT_EQ(qwen3.at("model.layers.0.self_attn.q_norm.weight").init, TensorInit::kOnes);
  EXPECT_EQ(qwen3.at("model.layers.0.self_attn.q_proj.weight").shape, (std::vector<int64_t>{128, 64}));
  EXPECT_FALSE(qwen3.count("model.layers.0.self_attn.q_proj.bias"));

  // Gemma stores w of (1 + w): its neutral norms are zeros, all four per layer and the q/k norms.
  const auto gemma = ByName(HfTensorLayout(FindModelPreset("gemma3-tiny").config));
  for (const char* norm : {"input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm",
                           "post_feedforward_layernorm", "self_attn.q_norm", "self_attn.k_norm"}) {
    const std::string name = std::string("model.layers.3.") + norm + ".weight";
    ASSERT_TRUE(gemma.count(name)) << name;
    EXPECT_EQ(gemma.at(name).init, TensorInit::kZeros) << name;
  }
  EXPECT_EQ(gemma.at("model.norm.weight").init, TensorInit::kZeros);
  EXPECT_EQ(gemma.at("model.layers.0.self_attn.o_proj.weight").shape, (std::vector<int64_t>{64, 96}));

  const auto phi = ByName(HfTensorLayout(FindModelPreset("phi3-tiny").config));  // 4 heads, 4 kv of 16
  EXPECT_EQ(phi.at("model.layers.1.self_attn.qkv_proj.weight").shape, (std::vector<int64_t>{192, 64}));
  EXPECT_EQ(phi.at("model.layers.1.mlp.gate_up_proj.weight").shape, (std::vector<int64_t>{256, 64}));
  EXPECT_FALSE(phi.count("model.layers.1.self_attn.q_proj.weight"));
  EXPECT_FALSE(phi.count("model.layers.1.mlp.up_proj.weight"));
  EXPECT_EQ(phi.at("model.layers.1.post_attention_layernorm.weight").init, TensorInit::kOnes);
  EXPECT_TRUE(phi.count("lm_head.weight"));
}

}  // namespace
}  // namespace kvlab::test
