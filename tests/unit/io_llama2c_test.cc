// llama2.c checkpoints: header parsing, tensor order, shared/separate classifier, and exact-size checks.
#include <gtest/gtest.h>

#include "io_test_writers.h"
#include "kvlab/model/load_llama2c.h"
#include "test_assets.h"

namespace kvlab::test {
namespace {

namespace fs = std::filesystem;

struct Header {
  int32_t dim = 16, hidden = 24, layers = 2, heads = 4, kv_heads = 2, vocab = 10, seq = 8;
};

// Each float of the checkpoint is its own index in the float section, so a view's first element says
// exactly where in the file the loader pointed it.
Bytes Llama2c(const Header& h, bool shared, int64_t extra_floats = 0) {
  Bytes b;
  for (int32_t v : {h.dim, h.hidden, h.layers, h.heads, h.kv_heads, shared ? h.vocab : -h.vocab, h.seq})
    Put(b, v);
  const int64_t kv = h.dim / h.heads * h.kv_heads, hd = h.dim / h.heads, L = h.layers;
  int64_t n = int64_t{h.vocab} * h.dim +
              L * (2 * h.dim + 2 * h.dim * h.dim + 2 * kv * h.dim + 3 * h.hidden * h.dim) + h.dim +
              h.seq * hd + (shared ? 0 : int64_t{h.vocab} * h.dim) + extra_floats;
  for (int64_t i = 0; i < n; ++i) Put(b, static_cast<float>(i));
  return b;
}

fs::path WriteCheckpoint(const Bytes& b) {
  auto path = TempDir("l2c") / "model.bin";
  WriteFile(path, b);
  return path;
}

float First(const MatrixView& m) { return static_cast<const float*>(m.data)[0]; }

TEST(Llama2cTest, LoadsSharedClassifierCheckpoint) {
  const Header h;
  const LoadedModel m = LoadModel(WriteCheckpoint(Llama2c(h, /*shared=*/true)));
  const ModelConfig& c = m.config;
  EXPECT_EQ(m.format, ModelFormat::kLlama2c);
  EXPECT_EQ(c.dim, 16);
  EXPECT_EQ(c.ffn_dim, 24);
  EXPECT_EQ(c.n_layers, 2);
  EXPECT_EQ(c.n_heads, 4);
  EXPECT_EQ(c.n_kv_heads, 2);
  EXPECT_EQ(c.head_dim, 4);
  EXPECT_EQ(c.vocab_size, 10);
  EXPECT_EQ(c.max_seq_len, 8);
  EXPECT_EQ(c.rope_style, RopeStyle::kInterleaved);
  EXPECT_EQ(c.activation, Activation::kSiLU);
  EXPECT_FLOAT_EQ(c.norm_eps, 1e-5f);
  EXPECT_EQ(c.bos_id, 1);
  EXPECT_EQ(c.eos_id, 2);
  EXPECT_TRUE(c.tied_embeddings);
  // Offsets (in floats) of each array: embedding 160, rms_att 2x16, wq 2x256, wk 2x128, wv 2x128, wo 2x256,
  // rms_ffn 2x16, w1 2x384, w2 2x384, w3 2x384, rms_final 16.
  const auto& w = m.weights;
  EXPECT_EQ(First(w.tok_emb), 0);
  EXPECT_EQ(w.layers[1].attn_norm.data[0], 160 + 16);
  EXPECT_EQ(First(w.layers[0].wq), 192);
  EXPECT_EQ(First(w.layers[1].wk), 704 + 128);
  EXPECT_EQ(w.layers[1].wk.rows, 8);
  EXPECT_EQ(First(w.layers[0].wv), 960);
  EXPECT_EQ(First(w.layers[1].wo), 1216 + 256);
  EXPECT_EQ(w.layers[0].ffn_norm.data[0], 1728);
  EXPECT_EQ(First(w.layers[1].w_gate), 1760 + 384);  // w1
  EXPECT_EQ(First(w.layers[0].w_down), 2528);        // w2 [dim][hidden]
  EXPECT_EQ(w.layers[0].w_down.cols, 24);
  EXPECT_EQ(First(w.layers[1].w_up), 3296 + 384);  // w3
  EXPECT_EQ(w.final_norm.data[0], 4064);
  EXPECT_EQ(w.lm_head.data, w.tok_emb.data);
  EXPECT_EQ(m.ParameterCount(), 4080);
}

TEST(Llama2cTest, SeparateClassifierFollowsFreqCis) {
  const Header h;
  const LoadedModel m = LoadModel(WriteCheckpoint(Llama2c(h, /*shared=*/false)));
  EXPECT_FALSE(m.config.tied_embeddings);
  EXPECT_EQ(m.config.vocab_size, 10);
  EXPECT_EQ(First(m.weights.lm_head), 4080 + 8 * 4);  // after rms_final and freq_cis (seq * head_size)
  EXPECT_EQ(m.weights.lm_head.rows, 10);
}

TEST(Llama2cTest, FileSizeMustMatchTheHeaderExactly) {
  const Bytes good = Llama2c(Header{}, true);
  const auto dir = TempDir("l2c-size");
  WriteFile(dir / "short.bin", Bytes(good.begin(), good.end() - 1));
  ExpectError(
      [&] { LoadModel(dir / "short.bin"); },
      {"short.bin", "bytes, but its llama2.c header implies " + std::to_string(good.size()), "truncated"});
  WriteFile(dir / "long.bin", Llama2c(Header{}, true, 1));
  ExpectError([&] { LoadModel(dir / "long.bin"); }, {"long.bin", "trailing data"});
  WriteFile(dir / "tiny.bin", Bytes(good.begin(), good.begin() + 12));
  ExpectError([&] { LoadModel(dir / "tiny.bin"); }, {"tiny.bin", "too small for a llama2.c checkpoint"});
}

TEST(Llama2cTest, ImplausibleHeadersAreRejected) {
  const auto dir = TempDir("l2c-hdr");
  auto check = [&](Header h, const std::string& what) {
    WriteFile(dir / "m.bin", Llama2c(Header{}, true));
    Bytes b = ReadFileBytes(dir / "m.bin");
    const int32_t v[7] = {h.dim, h.hidden, h.layers, h.heads, h.kv_heads, h.vocab, h.seq};
    std::memcpy(b.data(), v, sizeof(v));
    WriteFile(dir / "m.bin", b);
    ExpectError([&] { LoadModel(dir / "m.bin"); }, {"m.bin", what});
  };
  Header zero_dim;
  zero_dim.dim = 0;
  check(zero_dim, "implausible header (dim 0");
  Header odd_heads;
  odd_heads.heads = 3;
  check(odd_heads, "not a llama2.c checkpoint");
  Header kv;
  kv.kv_heads = 3;
  check(kv, "implausible header");
  Header huge;
  huge.dim = 1 << 20;
  check(huge, "implausible model shape");
  std::string v1 = "ak42";
  v1.append(60, '\x01');
  WriteFile(dir / "v1.bin", v1);
  ExpectError([&] { LoadModel(dir / "v1.bin"); }, {"v1.bin", "magic ak42"});
}

TEST(Llama2cTest, RealStories260K) {
  KVLAB_REQUIRE_ASSETS();
  const auto path = AssetsDir() / "models/stories260K/stories260K.bin";
  const Bytes b = ReadFileBytes(path);
  const Llama2cHeader h = ParseLlama2cHeader(b.data(), b.size(), path.string());
  EXPECT_EQ(Llama2cFileBytes(h), static_cast<int64_t>(b.size()));
  EXPECT_TRUE(h.shared_classifier);
  // A tokenizer file is not a checkpoint: clear message, no crash.
  const auto tok = AssetsDir() / "models/stories260K/tok512.bin";
  ExpectError([&] { LoadModel(tok); }, {tok.string(), "not a llama2.c checkpoint"});
}

}  // namespace
}  // namespace kvlab::test
