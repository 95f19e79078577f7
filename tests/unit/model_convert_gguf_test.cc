// ConvertHfToGguf on small synthetic Hugging Face directories: what the arch-zoo golden test cannot reach
// (yarn keys, the Q8_0 -> F16 fallback for rows that are not whole blocks, refusals of what llama.cpp's layout
// cannot hold, the output left alone on failure).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "io_test_writers.h"
#include "kvlab/io/gguf.h"
#include "kvlab/io/safetensors.h"
#include "kvlab/model/convert_gguf.h"
#include "kvlab/model/model.h"
#include "test_assets.h"

namespace kvlab::test {
namespace {

constexpr int kDim = 48, kHeads = 2, kHeadDim = 24, kFfn = 64, kVocab = 16;

// A one-layer Llama-layout checkpoint of model_type `type`; `extra` is spliced into config.json.
std::filesystem::path WriteHfDir(const std::string& type, const std::string& extra, bool biases = false) {
  const auto dir = TempDir("convert-gguf");
  std::ofstream(dir / "config.json") << R"({"model_type": ")" << type << R"(", "hidden_size": 48,
    "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 2,
    "vocab_size": 16, "max_position_embeddings": 256, "rms_norm_eps": 1e-5, "tie_word_embeddings": true)"
                                      << extra << "}";
  std::vector<std::vector<float>> data;  // keeps the values alive until written
  std::vector<SafetensorsWriteSpec> specs;
  auto add = [&](const std::string& name, std::vector<int64_t> shape) {
    size_t n = 1;
    for (int64_t d : shape) n *= static_cast<size_t>(d);
    data.push_back(TestValues(static_cast<int>(specs.size()) + 1, n));
    specs.push_back(SafetensorsBytes(name, DType::kF32, std::move(shape), data.back().data()));
  };
  data.reserve(16);
  const std::string p = "model.layers.0.";
  add("model.embed_tokens.weight", {kVocab, kDim});
  add(p + "input_layernorm.weight", {kDim});
  add(p + "self_attn.q_proj.weight", {kDim, kDim});
  add(p + "self_attn.k_proj.weight", {kDim, kDim});
  add(p + "self_attn.v_proj.weight", {kDim, kDim});
  if (biases) {
    add(p + "self_attn.q_proj.bias", {kDim});
    add(p + "self_attn.k_proj.bias", {kDim});
    add(p + "self_attn.v_proj.bias", {kDim});
  }
  add(p + "self_attn.o_proj.weight", {kDim, kDim});
  add(p + "post_attention_layernorm.weight", {kDim});
  add(p + "mlp.gate_proj.weight", {kFfn, kDim});
  add(p + "mlp.up_proj.weight", {kFfn, kDim});
  add(p + "mlp.down_proj.weight", {kDim, kFfn});
  add("model.norm.weight", {kDim});
  WriteSafetensors(dir / "model.safetensors", specs);
  return dir;
}

std::vector<float> Logits(LoadedModel loaded) {
  const Model model(std::move(loaded));
  const std::vector<int32_t> ids = {1, 5, 2, 9, 3, 15, 0, 7};
  KvCache cache(model.config().CacheShape(), ids.size());
  Activations act(model.config(), 8);
  std::vector<float> logits(ids.size() * kVocab);
  model.Forward(ids, 0, cache, act, logits.data(), LogitsFor::kAllTokens);
  return logits;
}

TEST(ConvertGguf, YarnKeysRoundTripAndTheFileRunsAsTheCheckpoint) {
  const auto dir = WriteHfDir("llama", R"(, "rope_scaling": {"rope_type": "yarn", "factor": 4.0,
    "original_max_position_embeddings": 64, "beta_fast": 16.0, "beta_slow": 2.0})");
  const auto out = dir / "m.gguf";
  ConvertHfToGguf(dir, out);
  const GgufFile g = GgufFile::Open(out);
  EXPECT_EQ(g.GetString("llama.rope.scaling.type"), "yarn");
  EXPECT_EQ(g.GetFloat("llama.rope.scaling.factor"), 4.0);
  EXPECT_EQ(g.GetInt("llama.rope.scaling.original_context_length"), 64);
  EXPECT_EQ(g.GetFloat("llama.rope.scaling.yarn_beta_fast"), 16.0);
  EXPECT_EQ(g.GetFloat("llama.rope.scaling.yarn_beta_slow"), 2.0);
  LoadedModel from_gguf = LoadModel(out);
  const RopeScaling& s = from_gguf.config.rope_scaling;
  EXPECT_EQ(s.type, RopeScalingType::kYarn);
  EXPECT_EQ(s.original_max_positions, 64);
  EXPECT_EQ(s.beta_fast, 16.0f);
  const std::vector<float> a = Logits(std::move(from_gguf));
  const std::vector<float> b = Logits(LoadModel(dir));
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-5f + 1e-5f * std::fabs(b[i])) << i;
}

TEST(ConvertGguf, Q8_0FallsBackToF16ForRowsThatAreNotWholeBlocks) {
  const auto dir = WriteHfDir("qwen2", "", /*biases=*/true);
  const auto out = dir / "m.gguf";
  GgufConvertOptions o;
  o.type = GgufOutType::kQ8_0;
  ConvertHfToGguf(dir, out, o);
  const GgufFile g = GgufFile::Open(out);
  EXPECT_EQ(g.FindTensor("blk.0.attn_q.weight")->ggml_type, 1u);    // rows of 48: F16
  EXPECT_EQ(g.FindTensor("blk.0.ffn_down.weight")->ggml_type, 8u);  // rows of 64: Q8_0
  EXPECT_EQ(g.FindTensor("blk.0.attn_q.bias")->ggml_type, 0u);
  EXPECT_EQ(LoadModel(out).config.arch, Arch::kQwen2);
}

TEST(ConvertGguf, RefusesWhatLlamaCppCannotHoldAndLeavesTheOutputAlone) {
  const auto dir = WriteHfDir("qwen2", R"(, "rope_scaling": {"rope_type": "llama3", "factor": 8.0,
    "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 64})", true);
  const auto out = dir / "m.gguf";
  WriteFile(out, std::string("old"));
  GgufConvertOptions force;
  force.force = true;
  ExpectError([&] { ConvertHfToGguf(dir, out, force); }, {"config.json", "llama3 RoPE scaling", "qwen2"});
  EXPECT_EQ(ReadFileBytes(out), (Bytes{'o', 'l', 'd'}));
  ExpectError([&] { ConvertHfToGguf(dir, out); }, {"m.gguf", "already exists", "--force"});
  ExpectError([&] { ParseGgufOutType("q4_0", "--type"); }, {"--type", "q4_0"});
}

}  // namespace
}  // namespace kvlab::test
