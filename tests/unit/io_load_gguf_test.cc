// LoadModel on synthetic GGUF llama files: metadata -> config, tensor mapping, dtypes, shape errors.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "io_test_writers.h"
#include "kvlab/model/weight_builder.h"
#include "kvlab/model/weights.h"
#include "kvlab/tensor/dtype.h"
#include "test_assets.h"

namespace kvlab::test {
namespace {

constexpr int kDim = 32, kHeads = 4, kKvHeads = 2, kFfn = 64, kVocab = 16, kCtx = 16;
constexpr int kKvDim = kDim / kHeads * kKvHeads;

struct GgufModelSpec {
  uint32_t matrix_type = 0;  // ggml type of the 2-D weights: 0 F32, 1 F16, 2 Q4_0, 3 Q4_1, 6 Q5_0, 8 Q8_0
  bool with_output = true;
  std::string arch = "llama";
  std::string omit;                                    // tensor left out
  std::map<std::string, std::vector<uint64_t>> shape;  // tensor -> wrong shape (GGUF order)
  std::string omit_key;                                // metadata key left out
};

// The quantized types get one block pattern each, element i of the tensor dequantizing to
//   Q8_0: 0.5 * ((i % 7) - 3)   Q4_0: 0.5 * ((i % 16) - 8)   Q4_1: 0.5 * (i % 16) - 1   Q5_0: 0.5 * ((i % 32) - 16)
// (element j of a 32-block: low nibble of qs[j] for j < 16, high nibble of qs[j - 16] after; Q5_0's fifth
// bits in qh, bit j for element j).
Bytes EncodeMatrix(uint32_t type, int salt, size_t n) {
  Bytes b;
  if (type == 0) {
    const auto v = TestValues(salt, n);
    PutBytes(b, v.data(), 4 * n);
  } else if (type == 1) {
    for (size_t i = 0; i < n; ++i) Put(b, F32ToF16(TestValue(salt, i)));
  } else if (type == 8) {
    for (size_t blk = 0; blk < n / 32; ++blk) {
      Put(b, F32ToF16(0.5f));
      for (size_t i = 0; i < 32; ++i) Put(b, static_cast<int8_t>((blk * 32 + i) % 7 - 3));
    }
  } else {
    for (size_t blk = 0; blk < n / 32; ++blk) {
      Put(b, F32ToF16(0.5f));
      if (type == 3) Put(b, F32ToF16(-1.0f));  // Q4_1's offset
      const auto q = [&](size_t j) { return static_cast<uint32_t>((blk * 32 + j) % (type == 6 ? 32 : 16)); };
      if (type == 6) {
        uint32_t qh = 0;
        for (size_t j = 0; j < 32; ++j) qh |= (q(j) >> 4) << j;
        Put(b, qh);
      }
      for (size_t j = 0; j < 16; ++j) Put(b, static_cast<uint8_t>((q(j) & 15) | ((q(j + 16) & 15) << 4)));
    }
  }
  return b;
}

float ExpectedMatrixValue(uint32_t type, int salt, size_t i) {
  switch (type) {
    case 8: return 0.5f * static_cast<float>(static_cast<int>(i % 7) - 3);
    case 2: return 0.5f * static_cast<float>(static_cast<int>(i % 16) - 8);
    case 3: return 0.5f * static_cast<float>(i % 16) - 1.0f;
    case 6: return 0.5f * static_cast<float>(static_cast<int>(i % 32) - 16);
    default: return TestValue(salt, i);
  }
}

std::vector<std::pair<std::string, std::vector<uint64_t>>> TensorList(bool with_output) {
  std::vector<std::pair<std::string, std::vector<uint64_t>>> t = {
      {"token_embd.weight", {kDim, kVocab}},   {"blk.0.attn_norm.weight", {kDim}},
      {"blk.0.attn_q.weight", {kDim, kDim}},   {"blk.0.attn_k.weight", {kDim, kKvDim}},
      {"blk.0.attn_v.weight", {kDim, kKvDim}}, {"blk.0.attn_output.weight", {kDim, kDim}},
      {"blk.0.ffn_norm.weight", {kDim}},       {"blk.0.ffn_gate.weight", {kDim, kFfn}},
      {"blk.0.ffn_up.weight", {kDim, kFfn}},   {"blk.0.ffn_down.weight", {kFfn, kDim}},
      {"output_norm.weight", {kDim}}};
  if (with_output) t.push_back({"output.weight", {kDim, kVocab}});
  return t;
}

void AddMetadata(GgufBuilder& g, const GgufModelSpec& s) {
  const std::vector<std::pair<std::string, uint32_t>> ints = {{"llama.embedding_length", kDim},
                                                              {"llama.block_count", 1},
                                                              {"llama.feed_forward_length", kFfn},
                                                              {"llama.attention.head_count", kHeads},
                                                              {"llama.attention.head_count_kv", kKvHeads},
                                                              {"llama.context_length", kCtx}};
  g.String("general.architecture", s.arch);
  for (const auto& [k, v] : ints) {
    if (k != s.omit_key) g.U32(k, v);
  }
  g.F32("llama.attention.layer_norm_rms_epsilon", 1e-6f);
  g.F32("llama.rope.freq_base", 500000.0f);
}

std::filesystem::path WriteLlamaGguf(const GgufModelSpec& s, uint32_t version = 3) {
  GgufBuilder g(version);
  AddMetadata(g, s);
  int salt = 0;
  for (auto [name, shape] : TensorList(s.with_output)) {
    ++salt;
    if (name == s.omit) continue;
    if (s.shape.count(name)) shape = s.shape.at(name);
    size_t n = 1;
    for (uint64_t d : shape) n *= d;
    if (shape.size() == 1) {
      g.TensorF32(name, shape, TestValues(salt, n));  // norms are always F32 in GGUF
    } else {
      g.Tensor(name, shape, s.matrix_type, EncodeMatrix(s.matrix_type, salt, n));
    }
  }
  auto path = TempDir("gguf-model") / "model.gguf";
  WriteFile(path, g.Build());
  return path;
}

void ExpectMatrix(const MatrixView& m, int64_t rows, int64_t cols, uint32_t type, int salt) {
  ASSERT_EQ(m.rows, rows);
  ASSERT_EQ(m.cols, cols);
  ASSERT_EQ(m.dtype, DType::kF32);  // converted at load for now
  const float* d = static_cast<const float*>(m.data);
  for (size_t i = 0; i < static_cast<size_t>(rows * cols); ++i) {
    ASSERT_EQ(d[i], ExpectedMatrixValue(type, salt, i)) << "element " << i;
  }
}

class GgufModelTest : public testing::TestWithParam<uint32_t> {};

TEST_P(GgufModelTest, LoadsConfigAndWeights) {
  GgufModelSpec s;
  s.matrix_type = GetParam();
  const LoadedModel m = LoadModel(WriteLlamaGguf(s));
  const ModelConfig& c = m.config;
  EXPECT_EQ(m.format, ModelFormat::kGguf);
  EXPECT_EQ(c.arch, Arch::kLlama);
  EXPECT_EQ(c.dim, kDim);
  EXPECT_EQ(c.n_layers, 1);
  EXPECT_EQ(c.n_heads, kHeads);
  EXPECT_EQ(c.n_kv_heads, kKvHeads);
  EXPECT_EQ(c.head_dim, kDim / kHeads);
  EXPECT_EQ(c.ffn_dim, kFfn);
  EXPECT_EQ(c.vocab_size, kVocab);
  EXPECT_EQ(c.max_seq_len, kCtx);
  EXPECT_FLOAT_EQ(c.norm_eps, 1e-6f);
  EXPECT_FLOAT_EQ(c.rope_theta, 500000.0f);
  EXPECT_EQ(c.rope_style, RopeStyle::kInterleaved);
  EXPECT_FALSE(c.tied_embeddings);
  const uint32_t t = GetParam();
  ExpectMatrix(m.weights.tok_emb, kVocab, kDim, t, 1);
  ExpectMatrix(m.weights.layers[0].wq, kDim, kDim, t, 3);
  ExpectMatrix(m.weights.layers[0].wk, kKvDim, kDim, t, 4);
  ExpectMatrix(m.weights.layers[0].wo, kDim, kDim, t, 6);
  ExpectMatrix(m.weights.layers[0].w_down, kDim, kFfn, t, 10);
  ExpectMatrix(m.weights.lm_head, kVocab, kDim, t, 12);
  EXPECT_EQ(m.weights.layers[0].ffn_norm.data[5], TestValue(7, 5));
  EXPECT_EQ(m.weights.final_norm.size, kDim);
}

INSTANTIATE_TEST_SUITE_P(MatrixTypes, GgufModelTest, testing::Values(0u, 1u, 2u, 3u, 6u, 8u));

// --weights auto: Q4_0, Q5_0 and Q8_0 become q8 rows holding exactly the dequantized values; Q4_1 (an offset
// per block, which q8 cannot hold) becomes exact f32.
TEST(GgufModelLoadTest, AutoRepacksExactTypesToQ8) {
  for (uint32_t type : {2u, 3u, 6u, 8u}) {
    GgufModelSpec s;
    s.matrix_type = type;
    const LoadedModel m = LoadModel(WriteLlamaGguf(s), LoadOptions{WeightFormat::kAuto});
    const MatrixView& w = m.weights.layers[0].w_down;  // [kDim][kFfn], salt 10
    EXPECT_EQ(w.dtype, type == 3 ? DType::kF32 : DType::kQ8) << "type " << type;
    std::vector<float> row(kFfn);
    for (int64_t r = 0; r < w.rows; ++r) {
      ConvertToF32(w.dtype, static_cast<const uint8_t*>(w.data) + r * w.RowBytes(), kFfn, row.data());
      for (size_t c = 0; c < kFfn; ++c) {
        ASSERT_EQ(row[c], ExpectedMatrixValue(type, 10, static_cast<size_t>(r) * kFfn + c))
            << "type " << type << " row " << r << " col " << c;
      }
    }
  }
}

TEST(GgufModelLoadTest, MissingOutputMeansTiedAndVersionOneWorks) {
  GgufModelSpec s;
  s.with_output = false;
  const LoadedModel m = LoadModel(WriteLlamaGguf(s, /*version=*/1));
  EXPECT_TRUE(m.config.tied_embeddings);
  EXPECT_EQ(m.weights.lm_head.data, m.weights.tok_emb.data);
  EXPECT_EQ(m.ParameterCount(),
            int64_t{kVocab} * kDim + 2 * kDim * kDim + 2 * kKvDim * kDim + 3 * kFfn * kDim + 3 * kDim);
}

TEST(GgufModelLoadTest, MissingTensorIsNamed) {
  GgufModelSpec s;
  s.omit = "blk.0.attn_k.weight";
  const auto path = WriteLlamaGguf(s);
  ExpectError([&] { LoadModel(path); }, {path.string(), "missing tensor blk.0.attn_k.weight"});
}

TEST(GgufModelLoadTest, MisshapedTensorIsReportedInGgufOrder) {
  GgufModelSpec s;
  s.shape["blk.0.attn_k.weight"] = {kDim, 8};
  const auto path = WriteLlamaGguf(s);
  ExpectError([&] { LoadModel(path); },
              {path.string(), "tensor blk.0.attn_k.weight has shape [32, 8], expected [32, 16]"});
}

TEST(GgufModelLoadTest, UnknownArchitectureAndMissingKey) {
  GgufModelSpec s;
  s.arch = "falcon";
  const auto p1 = WriteLlamaGguf(s);
  ExpectError([&] { LoadModel(p1); }, {p1.string(), "unsupported GGUF architecture falcon"});
  GgufModelSpec k;
  k.omit_key = "llama.block_count";
  const auto p2 = WriteLlamaGguf(k);
  ExpectError([&] { LoadModel(p2); }, {p2.string(), "metadata llama.block_count missing"});
}

// The builder's own check, for any loader: rows that are not whole blocks of the stored type are refused.
TEST(GgufModelLoadTest, BuilderRefusesRowsOfPartialBlocks) {
  LoadedModel m;
  const Bytes data(144 * 2, 0);
  WeightBuilder b(
      m, "x.gguf",
      [&](const std::string& name) -> std::optional<StoredTensor> {
        return StoredTensor{name, DType::kQ4_K, {4, 128}, data.data()};
      },
      /*ggml_order=*/true);
  ExpectError([&] { b.Matrix("blk.0.attn_q.weight", 4, 128); },
              {"x.gguf", "tensor blk.0.attn_q.weight is q4_k but its rows of 128 are not a whole number of 256"});
}

TEST(GgufModelLoadTest, UnsupportedWeightTypeIsNamed) {
  GgufBuilder g;
  AddMetadata(g, GgufModelSpec{});
  g.Tensor("token_embd.weight", {256, kVocab}, 16, Bytes(66 * kVocab, 0));  // IQ2_XXS
  const auto path = TempDir("gguf-iq2") / "m.gguf";
  WriteFile(path, g.Build());
  ExpectError([&] { LoadModel(path); },
              {path.string(), "token_embd.weight", "unsupported tensor type 16 (IQ2_XXS)"});
}

}  // namespace
}  // namespace kvlab::test
