// The forward pass picks its RoPE table the way transformers does: LongRoPE's long factors for a forward call
// whose last position passes original_max_position_embeddings, the short ones otherwise, and the keys a
// cache already holds keep the rotation they were appended with.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <vector>

#include "kvlab/model/model.h"
#include "kvlab/model/presets.h"
#include "kvlab/model/random_model.h"
#include "kvlab/util/mapped_file.h"
#include "test_assets.h"

#include <nlohmann/json.hpp>

namespace kvlab {
namespace {

namespace fs = std::filesystem;

// The llama-tiny random model (head_dim 16) with `rope_scaling` set in its config.json.
fs::path TinyWithRopeScaling(const std::string& tag, const nlohmann::json& rope_scaling) {
  const fs::path dir = test::TempDir("rope-" + tag);
  RandomModelOptions o;
  o.seed = 11;
  ModelConfig c = FindModelPreset("llama-tiny").config;
  c.max_seq_len = 16;
  WriteRandomModel(c, dir, o);
  nlohmann::json j = nlohmann::json::parse(ReadTextFile(dir / "config.json"));
  j["rope_scaling"] = rope_scaling;
  j["original_max_position_embeddings"] = 16;
  std::ofstream(dir / "config.json") << j.dump(2);
  return dir;
}

// Logits of every position of `ids`, fed as one forward call (or token by token).
std::vector<float> Logits(const Model& m, const std::vector<int32_t>& ids, bool one_call) {
  const ModelConfig& c = m.config();
  KvCache cache(c.CacheShape(), ids.size());
  Activations act(c, 64);
  std::vector<float> out(ids.size() * c.vocab_size);
  if (one_call) {
    m.Forward(ids, 0, cache, act, out.data(), LogitsFor::kAllTokens);
  } else {
    for (size_t i = 0; i < ids.size(); ++i) {
      m.Forward({&ids[i], 1}, static_cast<int32_t>(i), cache, act, out.data() + i * c.vocab_size);
    }
  }
  return out;
}

float MaxDiff(const std::vector<float>& a, const std::vector<float>& b, size_t from, size_t to) {
  float d = 0;
  for (size_t i = from; i < to; ++i) d = std::max(d, std::fabs(a[i] - b[i]));
  return d;
}

TEST(ForwardRopeTables, LongRopeSwitchesToTheLongFactorsPerForwardCall) {
  // factor = max / original = 1, so the attention scaling is 1 and the long factors (2 everywhere) rotate
  // exactly like linear scaling x2; the short factors (1) like plain RoPE.
  const nlohmann::json longrope = {{"rope_type", "longrope"},
                                   {"short_factor", std::vector<float>(8, 1.0f)},
                                   {"long_factor", std::vector<float>(8, 2.0f)}};
  const Model lr(LoadModel(TinyWithRopeScaling("longrope", longrope)));
  const Model plain(LoadModel(TinyWithRopeScaling("plain", nullptr)));
  const Model linear(LoadModel(TinyWithRopeScaling("linear", {{"rope_type", "linear"}, {"factor", 2.0}})));
  const size_t vocab = static_cast<size_t>(lr.config().vocab_size);
  std::vector<int32_t> ids(24);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>((i * 37 + 5) % vocab);

  // One call reaching position 23 > 16: every token, the first ones too, rotates with the long factors.
  const std::vector<float> long_call = Logits(lr, ids, true);
  EXPECT_LT(MaxDiff(long_call, Logits(linear, ids, true), 0, long_call.size()), 1e-5f);
  EXPECT_GT(MaxDiff(long_call, Logits(plain, ids, true), 0, long_call.size()), 1e-3f);

  // Token by token: calls up to position 15 use the short factors (= plain RoPE); later calls the long ones,
  // over keys cached with the short rotation, as transformers' cache holds them.
  const std::vector<float> stepwise = Logits(lr, ids, false);
  const std::vector<float> plain_steps = Logits(plain, ids, false);
  EXPECT_LT(MaxDiff(stepwise, plain_steps, 0, 16 * vocab), 1e-5f);
  EXPECT_GT(MaxDiff(stepwise, plain_steps, 16 * vocab, ids.size() * vocab), 1e-3f);
}

TEST(ForwardRopeTables, DynamicNtkIsRefusedNamingTheField) {
  try {
    LoadModel(TinyWithRopeScaling("dynamic", {{"rope_type", "dynamic"}, {"factor", 2.0}}));
    FAIL() << "dynamic rope scaling loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("rope_scaling.rope_type \"dynamic\""), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace kvlab
