// LoadModel on synthetic Hugging Face directories: Llama and GPT-2 name mapping, Conv1D transposition,
// tied heads, dtype conversion, sharding, and the errors for missing or mis-shaped tensors.
#include <gtest/gtest.h>

#include <map>

#include "io_test_writers.h"
#include "kvlab/io/safetensors.h"
#include "kvlab/model/hf_config.h"
#include "kvlab/model/random_model.h"
#include "kvlab/model/weights.h"
#include "test_assets.h"

namespace kvlab::test {
namespace {

namespace fs = std::filesystem;

ModelConfig SmallLlama(bool tied) {
  ModelConfig c;
  c.arch = Arch::kLlama;
  c.dim = 64;
  c.n_layers = 2;
  c.n_heads = 4;
  c.n_kv_heads = 2;
  c.head_dim = 16;
  c.ffn_dim = 96;
  c.vocab_size = 40;
  c.max_seq_len = 32;
  c.rope_style = RopeStyle::kHalf;
  c.tied_embeddings = tied;
  c.bos_id = 1;
  c.eos_id = 2;
  return c;
}

ModelConfig SmallGpt2() {
  ModelConfig c;
  c.arch = Arch::kGpt2;
  c.dim = 32;
  c.n_layers = 2;
  c.n_heads = 4;
  c.n_kv_heads = 4;
  c.head_dim = 8;
  c.ffn_dim = 128;
  c.vocab_size = 50;
  c.max_seq_len = 24;
  c.activation = Activation::kGeluErf;
  c.tied_embeddings = true;
  c.bos_id = c.eos_id = 49;
  return c;
}

struct HfEdit {
  std::string omit;
  std::map<std::string, std::vector<int64_t>> shape;
  std::string rename_prefix_from, rename_prefix_to;                 // e.g. strip "transformer."
  std::vector<std::pair<std::string, std::vector<int64_t>>> extra;  // additional tensors
  DType dtype = DType::kF32;
};

// Tensor values: TestValues(salt = position in the layout). Returns name -> salt.
std::map<std::string, int> WriteHf(const fs::path& dir, const ModelConfig& c, const HfEdit& e = {}) {
  auto layout = HfTensorLayout(c);
  for (const auto& [name, shape] : e.extra) layout.push_back({name, shape, TensorInit::kNormal});
  std::map<std::string, int> salts;
  std::vector<SafetensorsWriteSpec> specs;
  int salt = 0;
  for (auto& t : layout) {
    ++salt;
    std::string name = t.name;
    if (!e.rename_prefix_from.empty() && name.rfind(e.rename_prefix_from, 0) == 0) {
      name = e.rename_prefix_to + name.substr(e.rename_prefix_from.size());
    }
    if (name == e.omit) continue;
    const auto shape = e.shape.count(name) ? e.shape.at(name) : t.shape;
    salts[name] = salt;
    specs.push_back({name, e.dtype, shape, [salt, dtype = e.dtype](std::span<uint8_t> out) {
                       const size_t n = out.size() / DTypeBytes(dtype, 1);
                       for (size_t i = 0; i < n; ++i) {
                         const float v = TestValue(salt, i);
                         if (dtype == DType::kF32) std::memcpy(out.data() + 4 * i, &v, 4);
                         const uint16_t h = dtype == DType::kF16 ? F32ToF16(v) : F32ToBf16(v);
                         if (dtype != DType::kF32) std::memcpy(out.data() + 2 * i, &h, 2);
                       }
                     }});
  }
  WriteSafetensors(dir / "model.safetensors", specs, {{"format", "pt"}});
  WriteFile(dir / "config.json", HfConfigJson(c));
  return salts;
}

float At(const MatrixView& m, int64_t r, int64_t c) {
  return static_cast<const float*>(m.data)[r * m.cols + c];
}

class HfLlamaDTypeTest : public testing::TestWithParam<DType> {};

TEST_P(HfLlamaDTypeTest, MapsLlamaNames) {
  const auto dir = TempDir("hf-llama");
  const ModelConfig c = SmallLlama(/*tied=*/false);
  HfEdit e;
  e.dtype = GetParam();
  const auto salt = WriteHf(dir, c, e);
  const LoadedModel m = LoadModel(dir);
  EXPECT_EQ(m.format, ModelFormat::kSafetensors);
  EXPECT_EQ(m.config.rope_style, RopeStyle::kHalf);
  EXPECT_EQ(m.config.n_kv_heads, 2);
  EXPECT_FALSE(m.config.tied_embeddings);
  const LayerWeights& l1 = m.weights.layers[1];
  EXPECT_EQ(l1.wk.rows, 32);
  EXPECT_EQ(At(l1.wk, 3, 5), TestValue(salt.at("model.layers.1.self_attn.k_proj.weight"), 3 * 64 + 5));
  EXPECT_EQ(At(l1.w_down, 7, 90), TestValue(salt.at("model.layers.1.mlp.down_proj.weight"), 7 * 96 + 90));
  EXPECT_EQ(At(l1.w_gate, 95, 63), TestValue(salt.at("model.layers.1.mlp.gate_proj.weight"), 95 * 64 + 63));
  EXPECT_EQ(l1.ffn_norm.data[9], TestValue(salt.at("model.layers.1.post_attention_layernorm.weight"), 9));
  EXPECT_EQ(At(m.weights.lm_head, 39, 1), TestValue(salt.at("lm_head.weight"), 39 * 64 + 1));
  EXPECT_EQ(At(m.weights.tok_emb, 2, 2), TestValue(salt.at("model.embed_tokens.weight"), 2 * 64 + 2));
  EXPECT_TRUE(m.weights.pos_emb.empty());
  EXPECT_TRUE(l1.bq.empty());
}

INSTANTIATE_TEST_SUITE_P(DTypes, HfLlamaDTypeTest, testing::Values(DType::kF32, DType::kF16, DType::kBF16));

TEST(HfLoadTest, TiedLlamaWithOnlyLmHead) {
  const auto dir = TempDir("hf-tied");
  const ModelConfig c = SmallLlama(/*tied=*/true);
  HfEdit e;
  e.rename_prefix_from = "model.embed_tokens.weight";
  e.rename_prefix_to = "lm_head.weight";
  const auto salt = WriteHf(dir, c, e);
  const LoadedModel m = LoadModel(dir);
  EXPECT_TRUE(m.config.tied_embeddings);
  EXPECT_EQ(m.weights.lm_head.data, m.weights.tok_emb.data);
  EXPECT_EQ(At(m.weights.tok_emb, 1, 0), TestValue(salt.at("lm_head.weight"), 64));
}

TEST(HfLoadTest, Gpt2Conv1DIsTransposedAndSplit) {
  const auto dir = TempDir("hf-gpt2");
  const ModelConfig c = SmallGpt2();
  HfEdit e;  // bare GPT2Model names (no "transformer."), plus an untied head with a bias
  e.rename_prefix_from = "transformer.";
  e.extra = {{"lm_head.weight", {50, 32}}, {"lm_head.bias", {50}}};
  const auto salt = WriteHf(dir, c, e);
  const LoadedModel m = LoadModel(dir);
  const int64_t d = 32;
  EXPECT_FALSE(m.config.tied_embeddings);
  EXPECT_EQ(m.config.activation, Activation::kGeluErf);
  const LayerWeights& l = m.weights.layers[1];
  const int attn = salt.at("h.1.attn.c_attn.weight");  // [in=32][out=96]
  for (int64_t r : {0, 5, 31}) {
    for (int64_t col : {0, 7, 31}) {
      EXPECT_EQ(At(l.wq, r, col), TestValue(attn, col * 3 * d + r));
      EXPECT_EQ(At(l.wk, r, col), TestValue(attn, col * 3 * d + d + r));
      EXPECT_EQ(At(l.wv, r, col), TestValue(attn, col * 3 * d + 2 * d + r));
      EXPECT_EQ(At(l.wo, r, col), TestValue(salt.at("h.1.attn.c_proj.weight"), col * d + r));
      EXPECT_EQ(At(l.w_down, r, col), TestValue(salt.at("h.1.mlp.c_proj.weight"), col * d + r));
    }
  }
  EXPECT_EQ(At(l.w_up, 100, 3), TestValue(salt.at("h.1.mlp.c_fc.weight"), 3 * 128 + 100));
  EXPECT_EQ(l.bk.data[4], TestValue(salt.at("h.1.attn.c_attn.bias"), d + 4));
  EXPECT_EQ(l.bv.size, d);
  EXPECT_EQ(l.b_up.size, 128);
  EXPECT_EQ(l.attn_norm_b.data[0], TestValue(salt.at("h.1.ln_1.bias"), 0));
  EXPECT_EQ(At(m.weights.pos_emb, 23, 31), TestValue(salt.at("wpe.weight"), 23 * d + 31));
  EXPECT_EQ(m.weights.lm_head_b.data[49], TestValue(salt.at("lm_head.bias"), 49));
  EXPECT_EQ(At(m.weights.lm_head, 1, 1), TestValue(salt.at("lm_head.weight"), d + 1));
}

TEST(HfLoadTest, Gpt2WithoutLmHeadIsTied) {
  const auto dir = TempDir("hf-gpt2-tied");
  WriteHf(dir, SmallGpt2());
  const LoadedModel m = LoadModel(dir / "config.json");  // a file inside the directory also works
  EXPECT_TRUE(m.config.tied_embeddings);
  EXPECT_EQ(m.weights.lm_head.data, m.weights.tok_emb.data);
  EXPECT_TRUE(m.weights.lm_head_b.empty());
}

TEST(HfLoadTest, MissingTensorNamesFileAndTensor) {
  const auto dir = TempDir("hf-missing");
  HfEdit e;
  e.omit = "model.layers.1.mlp.up_proj.weight";
  WriteHf(dir, SmallLlama(false), e);
  ExpectError([&] { LoadModel(dir); },
              {(dir / "model.safetensors").string(), "missing tensor model.layers.1.mlp.up_proj.weight"});
  const auto g = TempDir("hf-missing-gpt2");
  HfEdit eg;
  eg.omit = "transformer.h.0.attn.c_attn.bias";
  WriteHf(g, SmallGpt2(), eg);
  ExpectError([&] { LoadModel(g); }, {"missing tensor transformer.h.0.attn.c_attn.bias"});
}

TEST(HfLoadTest, MisshapedTensorNamesBothShapes) {
  const auto dir = TempDir("hf-shape");
  HfEdit e;
  e.shape["model.layers.0.self_attn.k_proj.weight"] = {64, 64};
  WriteHf(dir, SmallLlama(false), e);
  ExpectError([&] { LoadModel(dir); }, {(dir / "model.safetensors").string(),
                                        "tensor model.layers.0.self_attn.k_proj.weight has shape [64, 64], "
                                        "expected [32, 64]"});
  const auto g = TempDir("hf-shape-gpt2");
  HfEdit eg;
  eg.shape["transformer.h.1.attn.c_attn.weight"] = {96, 32};  // nn.Linear layout where Conv1D is expected
  WriteHf(g, SmallGpt2(), eg);
  ExpectError([&] { LoadModel(g); },
              {"tensor transformer.h.1.attn.c_attn.weight has shape [96, 32], expected [32, 96]"});
}

TEST(HfLoadTest, ShardedDirectoryLoads) {
  const auto dir = TempDir("hf-sharded");
  const auto salt = WriteHf(dir, SmallLlama(false));
  // Re-split model.safetensors into two shards by name.
  {
    const SafetensorsFile whole = SafetensorsFile::Open(dir / "model.safetensors");
    std::vector<SafetensorsWriteSpec> a, b;
    nlohmann::json map;
    for (const auto& t : whole.tensors()) {
      const bool first = t.name.find("layers.1") == std::string::npos;
      (first ? a : b).push_back(SafetensorsBytes(t.name, t.dtype, t.shape, t.data));
      map[t.name] = first ? "part1.safetensors" : "part2.safetensors";
    }
    WriteSafetensors(dir / "part1.safetensors", a);
    WriteSafetensors(dir / "part2.safetensors", b);
    WriteFile(dir / "model.safetensors.index.json", nlohmann::json{{"weight_map", map}}.dump());
  }
  fs::remove(dir / "model.safetensors");
  const LoadedModel m = LoadModel(dir);
  EXPECT_EQ(m.files.size(), 2u);
  EXPECT_EQ(At(m.weights.layers[1].wv, 1, 1),
            TestValue(salt.at("model.layers.1.self_attn.v_proj.weight"), 65));
}

TEST(HfLoadTest, PathErrors) {
  ExpectError([&] { LoadModel("/nonexistent/kvlab/model"); }, {"/nonexistent/kvlab/model", "no such file"});
  const auto empty = TempDir("hf-noconfig");
  ExpectError([&] { LoadModel(empty); }, {empty.string(), "no config.json"});
  const auto noweights = TempDir("hf-noweights");
  WriteFile(noweights / "config.json", HfConfigJson(SmallLlama(false)));
  ExpectError([&] { LoadModel(noweights); }, {noweights.string(), "no model.safetensors"});
  const auto badconfig = TempDir("hf-badconfig");
  WriteHf(badconfig, SmallLlama(false));
  WriteFile(badconfig / "config.json", std::string("{\"model_type\": \"llama\", \"hidden_size\": 64,"));
  ExpectError([&] { LoadModel(badconfig); }, {(badconfig / "config.json").string(), "malformed JSON"});
}

}  // namespace
}  // namespace kvlab::test
