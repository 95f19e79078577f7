// GGUF files quantized by llama.cpp itself (models/gguf-quants/rand256-<TYPE>.gguf: Q8_0, Q6_K, Q5_K_M,
// Q5_0, Q5_1, Q4_K_M, Q4_0, Q4_1, Q3_K_M, Q2_K) against reference/gguf_quants_reference.json: every tensor
// as gguf-py dequantizes it, llama.cpp's perplexity and its first greedy steps' top-5 logits.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <iterator>
#include <span>
#include <string>
#include <vector>

#include "kvlab/io/gguf.h"
#include "kvlab/model/model.h"
#include "kvlab/ops/matvec_kernels.h"
#include "kvlab/tensor/q8_rows.h"
#include "kvlab/tokenizer/tokenizer.h"
#include "test_assets.h"

namespace kvlab {
namespace {

using test::AssetsDir;
namespace fs = std::filesystem;

const nlohmann::json& Reference() {
  static const nlohmann::json ref = test::ReadJson(AssetsDir() / "reference" / "gguf_quants_reference.json");
  return ref;
}

class GgufQuantsGolden : public testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { KVLAB_REQUIRE_ASSETS(); }
  const nlohmann::json& Ref() const { return Reference()["files"][GetParam()]; }
  fs::path Path() const { return AssetsDir() / "models" / "gguf-quants" / Ref()["file"].get<std::string>(); }
};

// Sums over a tensor: the reference's are float64 sums of gguf-py's float32 values (some evidently summed
// in float32, whose rounding reaches ~1e-7 of the sum of |x|). So a sum must agree to 1e-6 of the sum of
// |x| (for sum_sq that is the sum itself): far below what one wrong block would move it (a whole
// 32-element block of these weights is ~1e-4 of the tensor's sum of |x|), far above summation order.
constexpr double kSumTolerance = 1e-6;

TEST_P(GgufQuantsGolden, TensorsDequantizeExactlyAsGgufPy) {
  const GgufFile g = GgufFile::Open(Path());
  const nlohmann::json& tensors = Ref()["tensors"];
  ASSERT_EQ(g.tensors().size(), tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    const nlohmann::json& want = tensors[i];
    const GgufTensorInfo& t = g.tensors()[i];
    SCOPED_TRACE(t.name);
    EXPECT_EQ(t.name, want["name"].get<std::string>());
    EXPECT_EQ(GgmlTypeName(t.ggml_type), want["type"].get<std::string>());
    EXPECT_EQ(t.shape, want["shape_ggml_ne"].get<std::vector<int64_t>>());
    EXPECT_EQ(t.nbytes, want["n_bytes"].get<size_t>());
    EXPECT_EQ(static_cast<size_t>(t.data - g.file()->data()), want["data_offset"].get<size_t>());
    ASSERT_TRUE(t.supported);

    const size_t n = static_cast<size_t>(t.NumElements());
    std::vector<float> values(n);
    ConvertToF32(t.dtype, t.data, n, values.data());
    const std::vector<double> first8 = want["first8"].get<std::vector<double>>();
    for (size_t k = 0; k < first8.size(); ++k) {
      EXPECT_EQ(values[k], first8[k]) << "value " << k;  // float32 values, printed exactly: bit-exact
    }
    double sum = 0, sum_sq = 0, sum_abs = 0;
    for (float v : values) {
      sum += v;
      sum_sq += static_cast<double>(v) * v;
      sum_abs += std::fabs(v);
    }
    EXPECT_NEAR(sum, want["sum"].get<double>(), kSumTolerance * sum_abs);
    EXPECT_NEAR(sum_sq, want["sum_sq"].get<double>(), kSumTolerance * sum_sq);
  }
}

// --weights auto keeps Q4_0, Q5_0 and Q8_0 matrices as q8 rows, everything else as f32, and either way
// every weight is exactly the f32 load's.
TEST_P(GgufQuantsGolden, AutoHoldsExactlyTheDequantizedWeights) {
  const GgufFile g = GgufFile::Open(Path());
  const LoadedModel exact = LoadModel(Path());
  const LoadedModel compact = LoadModel(Path(), LoadOptions{WeightFormat::kAuto});
  auto check = [&](const MatrixView& a, const MatrixView& f, const std::string& name) {
    SCOPED_TRACE(name);
    const DType stored = g.FindTensor(name)->dtype;
    ASSERT_EQ(f.dtype, DType::kF32);
    EXPECT_EQ(a.dtype, RepacksExactlyToQ8(stored) ? DType::kQ8 : DType::kF32);
    std::vector<float> row(static_cast<size_t>(a.cols));
    for (int64_t r = 0; r < a.rows; ++r) {
      kernels::DecodeRow(a.dtype, static_cast<const uint8_t*>(a.data) + r * a.RowBytes(), row.size(), row.data());
      const float* want = static_cast<const float*>(f.data) + r * f.cols;
      for (size_t c = 0; c < row.size(); ++c) ASSERT_EQ(row[c], want[c]) << "row " << r << " col " << c;
    }
  };
  check(compact.weights.tok_emb, exact.weights.tok_emb, "token_embd.weight");
  check(compact.weights.lm_head, exact.weights.lm_head, "output.weight");
  for (size_t l = 0; l < exact.weights.layers.size(); ++l) {
    const LayerWeights &a = compact.weights.layers[l], &f = exact.weights.layers[l];
    const std::string p = "blk." + std::to_string(l) + ".";
    check(a.wq, f.wq, p + "attn_q.weight");
    check(a.wk, f.wk, p + "attn_k.weight");
    check(a.wv, f.wv, p + "attn_v.weight");
    check(a.wo, f.wo, p + "attn_output.weight");
    check(a.w_gate, f.w_gate, p + "ffn_gate.weight");
    check(a.w_up, f.w_up, p + "ffn_up.weight");
    check(a.w_down, f.w_down, p + "ffn_down.weight");
  }
}

// kvlab (exact f32 weights, f32 activations) against llama.cpp, which multiplies quantized weights with
// activations rounded to 8 bits (q8_0 / q8_K) and keeps its KV cache in f16, so it sees slightly different
// numbers. This random-weight model amplifies such perturbations: llama.cpp's own F32 and Q8_0 runs of it
// (weights 0.4% apart) differ by up to 0.19 in the first step's top-5 logits, and kvlab's f32 vs bf16
// weights on these files by up to 0.056. Measured here (kvlab f32 in Release, AVX-512 machine):
//   top-5 logits of the first 3 greedy steps (teacher-forced on llama.cpp's ids; logits ~4-7), max |diff|:
//     Q8_0 0.156  Q6_K 0.370  Q5_K_M 0.236  Q5_0 0.161  Q5_1 0.199
//     Q4_K_M 0.156  Q4_0 0.112  Q4_1 0.200  Q3_K_M 0.135  Q2_K 0.207
//   perplexity, relative difference after all 113 windows (kvlab vs llama.cpp's final estimate):
//     Q8_0 8.7e-4  Q6_K 4.9e-4  Q5_K_M 3.0e-3  Q5_0 8.4e-4  Q5_1 4.2e-3
//     Q4_K_M 8.0e-4  Q4_0 1.4e-3  Q4_1 4.5e-3  Q3_K_M 1.6e-3  Q2_K 1.2e-3
//   after the first 24 windows: Q8_0 1.8e-3  Q6_K 3.1e-3  Q5_K_M 2.8e-3  Q5_0 1.8e-4  Q5_1 7.5e-3
//     Q4_K_M 1.5e-3  Q4_0 2.9e-3  Q4_1 3.9e-3  Q3_K_M 2.1e-3  Q2_K 6.3e-3
//   after any single one of the first windows (few tokens, so noisier): at most 4.9e-2 (Q2_K, window 1)
// The bounds are those maxima with margin (x1.6 logits, x2.7 after 24 windows, x1.6 running). What they
// catch is wiring (the wrong output tensor, RoPE layout, BOS handling): the ten files' perplexities after
// 24 windows spread over ±8% and their top logits by whole units. Exactness of the weights themselves is
// checked bit for bit above, which no end-to-end tolerance could.
constexpr double kLogitTolerance = 0.6;
constexpr double kRunningPplRelTolerance = 0.08;
constexpr size_t kCtx = 128;
// llama.cpp scored 113 windows and printed the running perplexity after each; the first kWindows of them
// are compared, as printed (all 113 take ~14 s per file on a 2-core machine; 24 take ~3 s). The sanitizer
// build, several times slower, runs 4, where the noise is larger: after 4 windows the measured relative
// differences are 3.7e-3 .. 1.1e-2, and 2.4e-2 for Q5_1, so its bound there is 0.05.
#if defined(__SANITIZE_ADDRESS__)
constexpr size_t kWindows = 4;
constexpr double kPplRelTolerance = 0.05;
#else
constexpr size_t kWindows = 24;
constexpr double kPplRelTolerance = 0.02;
#endif

std::string FirstBytes(const fs::path& path, size_t n) {
  std::ifstream in(path, std::ios::binary);
  std::string s(n, '\0');
  in.read(s.data(), static_cast<std::streamsize>(n));
  s.resize(static_cast<size_t>(in.gcount()));
  return s;
}

// Summed NLL (nats) of the predictions of tokens first+1 .. n-1 of one window, from one batched forward
// pass over the window (as llama.cpp evaluates a chunk: one batch of ctx tokens from an empty cache).
double WindowNll(const Model& model, std::span<const int32_t> window, size_t first) {
  const ModelConfig& c = model.config();
  const size_t vocab = static_cast<size_t>(c.vocab_size);
  const std::span<const int32_t> inputs = window.first(window.size() - 1);  // the last token is a target only
  KvCache cache(c.CacheShape(), inputs.size());
  Activations act(c, inputs.size());
  std::vector<float> logits(inputs.size() * vocab);  // [inputs][vocab]
  model.Forward(inputs, 0, cache, act, logits.data(), LogitsFor::kAllTokens);
  double nll = 0;
  for (size_t i = first; i < inputs.size(); ++i) {
    const float* row = logits.data() + i * vocab;
    double mx = row[0];
    for (size_t v = 1; v < vocab; ++v) mx = std::max<double>(mx, row[v]);
    double z = 0;
    for (size_t v = 0; v < vocab; ++v) z += std::exp(row[v] - mx);
    nll += mx + std::log(z) - row[window[i + 1]];
  }
  return nll;
}

TEST_P(GgufQuantsGolden, PerplexityMatchesLlamaCpp) {
  const Model model(LoadModel(Path()));
  const auto tokenizer = LoadTokenizer({model.loaded().path, model.loaded().format, model.config().vocab_size});
  const nlohmann::json& desc = Reference()["description"]["text"];
  const std::string text =
      FirstBytes(AssetsDir() / "text" / "tinystories_val.txt", desc["bytes_used"].get<size_t>());
  std::vector<int32_t> tokens = tokenizer->Encode(text, /*add_bos=*/true);
  const nlohmann::json& ppl = Ref()["perplexity"];
  ASSERT_EQ(tokens.size() / kCtx, ppl["n_chunks"].get<size_t>());  // llama.cpp cut the text the same way
  const std::vector<double> running = ppl["chunks"].get<std::vector<double>>();  // as printed after each
  ASSERT_GE(running.size(), kWindows);
  // llama.cpp's protocol: each window of kCtx tokens starts with BOS in place of its first token, and only
  // its second half is scored (predictions of tokens kCtx/2 + 1 .. kCtx - 1).
  double nll = 0, ours = 0, worst = 0;
  size_t scored = 0;
  for (size_t w = 0; w < kWindows; ++w) {
    std::vector<int32_t> window(tokens.begin() + w * kCtx, tokens.begin() + (w + 1) * kCtx);
    window[0] = model.config().bos_id;
    nll += WindowNll(model, window, kCtx / 2);
    scored += kCtx / 2 - 1;
    ours = std::exp(nll / static_cast<double>(scored));
    const double rel = std::fabs(ours / running[w] - 1.0);
    worst = std::max(worst, rel);
    EXPECT_LE(rel, kRunningPplRelTolerance)
        << "after window " << w + 1 << ": kvlab " << ours << ", llama.cpp " << running[w];
  }
  const double last_rel = std::fabs(ours / running[kWindows - 1] - 1.0);
  EXPECT_LE(last_rel, kPplRelTolerance) << "after " << kWindows << " windows: kvlab " << ours << ", llama.cpp "
                                        << running[kWindows - 1];
  std::printf("[ %s ] perplexity after %zu windows %.4f (llama.cpp %.4f): relative difference %.2e, at most "
              "%.2e after any window\n",
              GetParam().c_str(), kWindows, ours, running[kWindows - 1], last_rel, worst);
}

TEST_P(GgufQuantsGolden, GreedyTopLogitsMatchLlamaCpp) {
  const Model model(LoadModel(Path()));
  const ModelConfig& c = model.config();
  const nlohmann::json& greedy = Ref()["greedy"];
  const auto prompt = greedy["prompt_ids"].get<std::vector<int32_t>>();
  const auto generated = greedy["generated_ids"].get<std::vector<int32_t>>();
  const auto tokenizer = LoadTokenizer({model.loaded().path, model.loaded().format, model.config().vocab_size});
  EXPECT_EQ(tokenizer->Encode("Once upon a time", /*add_bos=*/true), prompt);  // the reference's prompt
  KvCache cache(c.CacheShape(), 16);
  Activations act(c, prompt.size());
  std::vector<float> logits(static_cast<size_t>(c.vocab_size));
  model.Forward(prompt, 0, cache, act, logits.data());
  double worst = 0;
  for (int step = 0; step < 3; ++step) {
    if (step > 0) {  // teacher-forced on llama.cpp's choice, so a near-tie cannot send the runs apart
      const int32_t id = generated[static_cast<size_t>(step - 1)];
      model.Forward({&id, 1}, static_cast<int32_t>(prompt.size()) + step - 1, cache, act, logits.data());
    }
    for (const nlohmann::json& pair : greedy["top5_logits"]["step" + std::to_string(step)]) {
      const int32_t id = pair[0].get<int32_t>();
      const double want = pair[1].get<double>();
      const double diff = std::fabs(logits[static_cast<size_t>(id)] - want);
      worst = std::max(worst, diff);
      EXPECT_LE(diff, kLogitTolerance) << "step " << step << " id " << id << ": kvlab "
                                       << logits[static_cast<size_t>(id)] << ", llama.cpp " << want;
    }
  }
  std::printf("[ %s ] top-5 logits, max |kvlab - llama.cpp| %.2e\n", GetParam().c_str(), worst);
}

INSTANTIATE_TEST_SUITE_P(AllFiles, GgufQuantsGolden,
                         testing::Values("Q8_0", "Q6_K", "Q5_K_M", "Q5_0", "Q5_1", "Q4_K_M", "Q4_0", "Q4_1",
                                         "Q3_K_M", "Q2_K"));

}  // namespace
}  // namespace kvlab
