// The real models in ../shared load with the right configs and weights, the two stories260K files agree
// element for element, and `kvlab init` checkpoints load back exactly.
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "kvlab/io/safetensors.h"
#include "kvlab/model/presets.h"
#include "kvlab/model/random_model.h"
#include "kvlab/model/weights.h"
#include "test_assets.h"

namespace kvlab {
namespace {

using test::AssetsDir;
namespace fs = std::filesystem;

fs::path Models() { return AssetsDir() / "models"; }

void ExpectStories260KConfig(const ModelConfig& c) {
  EXPECT_EQ(c.arch, Arch::kLlama);
  EXPECT_EQ(c.dim, 64);
  EXPECT_EQ(c.n_layers, 5);
  EXPECT_EQ(c.n_heads, 8);
  EXPECT_EQ(c.n_kv_heads, 4);
  EXPECT_EQ(c.head_dim, 8);
  EXPECT_EQ(c.ffn_dim, 172);
  EXPECT_EQ(c.vocab_size, 512);
  EXPECT_EQ(c.max_seq_len, 512);
  EXPECT_FLOAT_EQ(c.norm_eps, 1e-5f);
  EXPECT_EQ(c.rope_theta, 10000.0f);
  EXPECT_EQ(c.rope_style, RopeStyle::kInterleaved);
  EXPECT_EQ(c.activation, Activation::kSiLU);
  EXPECT_EQ(c.bos_id, 1);
  EXPECT_EQ(c.eos_id, 2);
}

// Element-for-element equality of two f32 matrices / vectors, reporting the first difference.
void ExpectSame(const MatrixView& a, const MatrixView& b, const std::string& what) {
  ASSERT_EQ(a.rows, b.rows) << what;
  ASSERT_EQ(a.cols, b.cols) << what;
  ASSERT_EQ(a.dtype, DType::kF32) << what;
  ASSERT_EQ(b.dtype, DType::kF32) << what;
  const auto* x = static_cast<const float*>(a.data);
  const auto* y = static_cast<const float*>(b.data);
  for (int64_t i = 0; i < a.rows * a.cols; ++i) ASSERT_EQ(x[i], y[i]) << what << " element " << i;
}

void ExpectSame(const VectorView& a, const VectorView& b, const std::string& what) {
  ASSERT_EQ(a.size, b.size) << what;
  for (int64_t i = 0; i < a.size; ++i) ASSERT_EQ(a.data[i], b.data[i]) << what << " element " << i;
}

TEST(LoadModelsGolden, Stories260KLlama2cAndGgufAreIdentical) {
  KVLAB_REQUIRE_ASSETS();
  const LoadedModel bin = LoadModel(Models() / "stories260K/stories260K.bin");
  const LoadedModel gguf = LoadModel(Models() / "stories260K/stories260K-v1.gguf");
  EXPECT_EQ(bin.format, ModelFormat::kLlama2c);
  EXPECT_EQ(gguf.format, ModelFormat::kGguf);
  ExpectStories260KConfig(bin.config);
  ExpectStories260KConfig(gguf.config);
  EXPECT_TRUE(bin.config.tied_embeddings);
  EXPECT_EQ(bin.ParameterCount(), 260032);
  ExpectSame(bin.weights.tok_emb, gguf.weights.tok_emb, "tok_emb");
  ExpectSame(bin.weights.lm_head, gguf.weights.lm_head, "lm_head");  // GGUF stores a copy as output.weight
  ExpectSame(bin.weights.final_norm, gguf.weights.final_norm, "final_norm");
  for (int l = 0; l < 5; ++l) {
    const LayerWeights& a = bin.weights.layers[l];
    const LayerWeights& b = gguf.weights.layers[l];
    const std::string n = "layer " + std::to_string(l) + " ";
    ExpectSame(a.attn_norm, b.attn_norm, n + "attn_norm");
    ExpectSame(a.ffn_norm, b.ffn_norm, n + "ffn_norm");
    ExpectSame(a.wq, b.wq, n + "wq");
    ExpectSame(a.wk, b.wk, n + "wk");
    ExpectSame(a.wv, b.wv, n + "wv");
    ExpectSame(a.wo, b.wo, n + "wo");
    ExpectSame(a.w_gate, b.w_gate, n + "w_gate");
    ExpectSame(a.w_up, b.w_up, n + "w_up");
    ExpectSame(a.w_down, b.w_down, n + "w_down");
  }
  EXPECT_EQ(bin.WeightBytes(), gguf.WeightBytes());
}

TEST(LoadModelsGolden, TinyStories656K) {
  KVLAB_REQUIRE_ASSETS();
  const LoadedModel m = LoadModel(Models() / "tinystories-656k");
  const ModelConfig& c = m.config;
  EXPECT_EQ(m.format, ModelFormat::kSafetensors);
  EXPECT_EQ(c.arch, Arch::kLlama);
  EXPECT_EQ(c.dim, 128);
  EXPECT_EQ(c.n_layers, 2);
  EXPECT_EQ(c.n_heads, 8);
  EXPECT_EQ(c.n_kv_heads, 4);
  EXPECT_EQ(c.ffn_dim, 384);
  EXPECT_EQ(c.vocab_size, 2048);
  EXPECT_EQ(c.max_seq_len, 512);
  EXPECT_FLOAT_EQ(c.norm_eps, 1e-6f);
  EXPECT_EQ(c.rope_style, RopeStyle::kHalf);
  EXPECT_TRUE(c.tied_embeddings);
  // Only lm_head.weight is stored; the embedding is the same matrix.
  EXPECT_EQ(m.weights.tok_emb.data, m.weights.lm_head.data);
  EXPECT_EQ(m.ParameterCount(), 656000);
  const SafetensorsFile raw = SafetensorsFile::Open(Models() / "tinystories-656k/model.safetensors");
  // f32 weights are viewed in place in the memory map, not copied.
  const auto* p = static_cast<const uint8_t*>(m.weights.tok_emb.data);
  EXPECT_TRUE(p >= m.files[0]->data() && p < m.files[0]->data() + m.files[0]->size());
  const auto* q = reinterpret_cast<const float*>(raw.Find("model.layers.1.self_attn.q_proj.weight")->data);
  const auto* wq = static_cast<const float*>(m.weights.layers[1].wq.data);
  for (int i = 0; i < 128 * 128; i += 97) ASSERT_EQ(wq[i], q[i]);
}

TEST(LoadModelsGolden, ShakespeareCharGpt2) {
  KVLAB_REQUIRE_ASSETS();
  const fs::path dir = Models() / "shakespeare-char-gpt2";
  const LoadedModel m = LoadModel(dir);
  const ModelConfig& c = m.config;
  EXPECT_EQ(c.arch, Arch::kGpt2);
  EXPECT_EQ(c.dim, 128);
  EXPECT_EQ(c.n_layers, 4);
  EXPECT_EQ(c.n_heads, 4);
  EXPECT_EQ(c.head_dim, 32);
  EXPECT_EQ(c.ffn_dim, 512);
  EXPECT_EQ(c.vocab_size, 65);
  EXPECT_EQ(c.max_seq_len, 64);
  EXPECT_EQ(c.activation, Activation::kGeluErf);
  EXPECT_FLOAT_EQ(c.norm_eps, 1e-5f);
  EXPECT_FALSE(c.tied_embeddings);
  EXPECT_NE(m.weights.lm_head.data, m.weights.tok_emb.data);
  EXPECT_EQ(m.weights.lm_head_b.size, 65);
  EXPECT_EQ(m.weights.pos_emb.rows, 64);
  // Conv1D [in][out] -> [out][in]: compare against the raw file.
  const SafetensorsFile raw = SafetensorsFile::Open(dir / "model.safetensors");
  const auto* attn = reinterpret_cast<const float*>(raw.Find("transformer.h.2.attn.c_attn.weight")->data);
  const auto* fc = reinterpret_cast<const float*>(raw.Find("transformer.h.2.mlp.c_fc.weight")->data);
  const LayerWeights& l = m.weights.layers[2];
  auto at = [](const MatrixView& v, int r, int col) {
    return static_cast<const float*>(v.data)[r * v.cols + col];
  };
  for (int r = 0; r < 128; r += 9) {
    for (int col = 0; col < 128; col += 11) {
      ASSERT_EQ(at(l.wq, r, col), attn[col * 384 + r]);
      ASSERT_EQ(at(l.wk, r, col), attn[col * 384 + 128 + r]);
      ASSERT_EQ(at(l.wv, r, col), attn[col * 384 + 256 + r]);
      ASSERT_EQ(at(l.w_up, r * 4, col), fc[col * 512 + r * 4]);
    }
  }
}

// f32 -> stored dtype -> f32, i.e. the value the loader must return for a weight written in `t`.
float Rounded(DType t, float v) {
  if (t == DType::kF16) return F16ToF32(F32ToF16(v));
  if (t == DType::kBF16) return Bf16ToF32(F32ToBf16(v));
  return v;
}

std::vector<float> Expected(const std::string& name, size_t n, DType t, uint64_t seed) {
  std::vector<float> v(n);
  FillRandomNormal(seed, name, 0.02f, v);
  for (float& x : v) x = Rounded(t, x);
  return v;
}

struct InitCase {
  std::string preset;
  std::string dtype;
};

class InitRoundTrip : public testing::TestWithParam<InitCase> {};

TEST_P(InitRoundTrip, KvlabInitThenLoadModel) {
  const InitCase& p = GetParam();
  const DType t = p.dtype == "f16" ? DType::kF16 : p.dtype == "bf16" ? DType::kBF16 : DType::kF32;
  const fs::path dir = test::TempDir("init-rt") / "model";
  const auto r = test::RunKvlab("init --preset " + p.preset + " --dtype " + p.dtype + " --seed 42 --out '" +
                                dir.string() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const LoadedModel m = LoadModel(dir);
  const ModelConfig& want = FindModelPreset(p.preset).config;
  const ModelConfig& c = m.config;
  EXPECT_EQ(c.arch, want.arch);
  EXPECT_EQ(c.dim, want.dim);
  EXPECT_EQ(c.n_layers, want.n_layers);
  EXPECT_EQ(c.n_heads, want.n_heads);
  EXPECT_EQ(c.n_kv_heads, want.n_kv_heads);
  EXPECT_EQ(c.ffn_dim, want.ffn_dim);
  EXPECT_EQ(c.vocab_size, want.vocab_size);
  EXPECT_EQ(c.max_seq_len, want.max_seq_len);
  EXPECT_EQ(c.tied_embeddings, want.tied_embeddings);
  EXPECT_EQ(c.activation, want.activation);
  const bool llama = c.arch == Arch::kLlama;
  const size_t emb = static_cast<size_t>(c.vocab_size) * c.dim;
  const auto tok = Expected(llama ? "model.embed_tokens.weight" : "transformer.wte.weight", emb, t, 42);
  const auto* got = static_cast<const float*>(m.weights.tok_emb.data);
  for (size_t i = 0; i < emb; ++i) ASSERT_EQ(got[i], tok[i]) << "tok_emb " << i;
  const LayerWeights& l = m.weights.layers[1];
  for (int64_t i = 0; i < c.dim; ++i) ASSERT_EQ(l.attn_norm.data[i], 1.0f);
  if (llama) {
    const auto wk = Expected("model.layers.1.self_attn.k_proj.weight", c.kv_dim() * c.dim, t, 42);
    const auto* k = static_cast<const float*>(l.wk.data);
    for (size_t i = 0; i < wk.size(); ++i) ASSERT_EQ(k[i], wk[i]) << "wk " << i;
    EXPECT_NE(m.weights.lm_head.data, m.weights.tok_emb.data);
  } else {
    const int64_t d = c.dim;
    const auto attn = Expected("transformer.h.1.attn.c_attn.weight", d * 3 * d, t, 42);  // [in][3*out]
    const auto* v = static_cast<const float*>(l.wv.data);
    for (int64_t r = 0; r < d; ++r) {
      for (int64_t col = 0; col < d; ++col) ASSERT_EQ(v[r * d + col], attn[col * 3 * d + 2 * d + r]);
    }
    const auto bias = Expected("transformer.h.1.attn.c_attn.bias", 3 * d, t, 42);
    for (int64_t i = 0; i < d; ++i) ASSERT_EQ(l.bk.data[i], bias[d + i]);
    for (int64_t i = 0; i < d; ++i) ASSERT_EQ(l.attn_norm_b.data[i], 0.0f);
    EXPECT_EQ(m.weights.lm_head.data, m.weights.tok_emb.data);
  }
}

INSTANTIATE_TEST_SUITE_P(PresetsAndDTypes, InitRoundTrip,
                         testing::Values(InitCase{"llama-tiny", "f32"}, InitCase{"llama-tiny", "f16"},
                                         InitCase{"llama-tiny", "bf16"}, InitCase{"gpt2-tiny", "f32"},
                                         InitCase{"gpt2-tiny", "f16"}, InitCase{"gpt2-tiny", "bf16"}),
                         [](const testing::TestParamInfo<InitCase>& i) {
                           std::string n = i.param.preset + "_" + i.param.dtype;
                           for (char& ch : n) ch = ch == '-' ? '_' : ch;
                           return n;
                         });

TEST(InitCommand, ListsPresetsAndRefusesToClobber) {
  const auto list = test::RunKvlab("init --list");
  ASSERT_EQ(list.exit_code, 0);
  for (const char* name : {"llama-110m", "llama-15m", "gpt2-124m", "llama-tiny", "gpt2-tiny"}) {
    EXPECT_NE(list.out.find(name), std::string::npos) << name;
  }
  EXPECT_EQ(test::RunKvlab("init --help").exit_code, 0);
  const fs::path dir = test::TempDir("init-busy");
  std::ofstream(dir / "x") << "keep";
  const auto busy = test::RunKvlab("init --preset llama-tiny --out '" + dir.string() + "'");
  EXPECT_EQ(busy.exit_code, 1);
  EXPECT_NE(busy.err.find("directory is not empty"), std::string::npos) << busy.err;
  const auto bad = test::RunKvlab("init --preset nope --out '" + (dir / "y").string() + "'");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("unknown preset nope"), std::string::npos) << bad.err;
  EXPECT_FALSE(fs::exists(dir / "y"));
  EXPECT_NE(
      test::RunKvlab("init --preset llama-tiny --dtype q4 --out '" + (dir / "z").string() + "'").exit_code,
      0);
}

}  // namespace
}  // namespace kvlab
