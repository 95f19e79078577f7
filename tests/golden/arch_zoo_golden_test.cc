// The model families (Llama 3 RoPE scaling, Qwen2/3, Mistral, Gemma 2/3, Phi-3, a GPT-2 control) against
// ../shared/reference/arch_zoo_reference.json: logits of an independent float32 re-implementation of the
// Hugging Face modeling code, for tiny random-weight checkpoints with each family's real structure.
//
// Tolerance: the reference's own suggestion, |kvlab - ref| <= 1e-4 + 1e-4 * |ref| per logit (gemma2:
// 5e-4 absolute, its peaky attention and logits up to ~11 amplify float32 rounding). The reference rounds
// every logit to 6 significant digits, which is inside that bound. Greedy tokens must match exactly
// (every reference step has a top-1/top-2 margin >= 0.01).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "kvlab/model/model.h"
#include "test_assets.h"

namespace kvlab {
namespace {

using nlohmann::json;
using test::AssetsDir;

const json& Reference() {
  static const json ref = test::ReadJson(AssetsDir() / "reference" / "arch_zoo_reference.json");
  return ref;
}

struct ZooCase {
  std::string name;      // key under "cases"
  size_t sequence = 0;   // index into the case's "sequences"
};

void PrintTo(const ZooCase& c, std::ostream* os) { *os << c.name << " sequence " << c.sequence; }

std::vector<ZooCase> AllCases() {
  std::vector<ZooCase> out;
  for (const char* name : {"llama3", "llama-linear", "qwen2", "qwen3", "mistral", "gemma2", "gemma3", "phi3",
                           "gpt2-control"}) {
    const bool two = std::string(name) == "mistral" || std::string(name).rfind("gemma", 0) == 0;
    out.push_back({name, 0});
    if (two) out.push_back({name, 1});  // short_within_window: a sequence shorter than the window
  }
  return out;
}

std::string CaseName(const ::testing::TestParamInfo<ZooCase>& info) {
  std::string s = info.param.name + "_" + std::to_string(info.param.sequence);
  std::replace(s.begin(), s.end(), '-', '_');
  return s;
}

float Tolerance(const std::string& name, float ref) {
  return name == "gemma2" ? 5e-4f : 1e-4f + 1e-4f * std::fabs(ref);
}

double LogSumExp(const float* row, size_t n) {
  double mx = row[0];
  for (size_t v = 1; v < n; ++v) mx = std::max<double>(mx, row[v]);
  double z = 0;
  for (size_t v = 0; v < n; ++v) z += std::exp(row[v] - mx);
  return mx + std::log(z);
}

size_t Argmax(const float* row, size_t n) { return static_cast<size_t>(std::max_element(row, row + n) - row); }

class ArchZooGolden : public ::testing::TestWithParam<ZooCase> {
 protected:
  void SetUp() override {
    KVLAB_REQUIRE_ASSETS();
    const json& c = Reference()["cases"][GetParam().name];
    seq_ = c["sequences"][GetParam().sequence];
    ids_ = seq_["input_ids"].get<std::vector<int32_t>>();
    model_ = std::make_unique<Model>(LoadModel(AssetsDir() / c["dir"].get<std::string>()));
    vocab_ = static_cast<size_t>(model_->config().vocab_size);
  }

  // Logits of every position from one call over the whole sequence, in chunks of `batch` tokens.
  std::vector<float> AllLogits(size_t batch, KvCache& cache) const {
    Activations act(model_->config(), batch);
    std::vector<float> logits(ids_.size() * vocab_);
    model_->Forward(ids_, 0, cache, act, logits.data(), LogitsFor::kAllTokens);
    return logits;
  }

  void ExpectRowNear(const float* got, const json& want, const std::string& where) const {
    ASSERT_EQ(want.size(), vocab_) << where;
    size_t bad = 0;
    float worst = 0;
    for (size_t v = 0; v < vocab_; ++v) {
      const float w = want[v].get<float>();
      const float d = std::fabs(got[v] - w);
      if (d > Tolerance(GetParam().name, w)) ++bad;
      worst = std::max(worst, d);
    }
    EXPECT_EQ(bad, 0u) << where << ": " << bad << " logits outside tolerance, largest difference " << worst;
  }

  json seq_;
  std::vector<int32_t> ids_;
  std::unique_ptr<Model> model_;
  size_t vocab_ = 0;
};

TEST_P(ArchZooGolden, FullSequenceLogitsMatchReference) {
  KvCache cache(model_->config().CacheShape(), ids_.size());
  const std::vector<float> logits = AllLogits(64, cache);
  for (const json& p : seq_["logits_positions"]) {
    const size_t pos = p.get<size_t>();
    ExpectRowNear(logits.data() + pos * vocab_, seq_["logits"][std::to_string(pos)], "position " + std::to_string(pos));
  }
  const json& per = seq_["per_position"];
  for (size_t i = 0; i < ids_.size(); ++i) {
    const float* row = logits.data() + i * vocab_;
    const double lse = per["logsumexp"][i].get<double>();
    EXPECT_NEAR(LogSumExp(row, vocab_), lse, Tolerance(GetParam().name, static_cast<float>(lse))) << "position " << i;
    if (per["top1_top2_margin"][i].get<double>() > 1e-3) {
      EXPECT_EQ(Argmax(row, vocab_), per["argmax"][i].get<size_t>()) << "position " << i;
    }
  }
  // What a full-cache `kvlab ppl --ids` reports.
  double nll = 0;
  for (size_t i = 0; i + 1 < ids_.size(); ++i) {
    const float* row = logits.data() + i * vocab_;
    nll += LogSumExp(row, vocab_) - row[ids_[i + 1]];
  }
  EXPECT_NEAR(nll / static_cast<double>(ids_.size() - 1), seq_["nll_mean_next_token"].get<double>(), 1e-4);
}

TEST_P(ArchZooGolden, GreedyDecodeThroughTheCacheMatchesReference) {
  const ModelConfig& c = model_->config();
  const json& greedy = seq_["greedy_next_8"];
  KvCache cache(c.CacheShape(), ids_.size() + greedy.size());
  Activations act(c, 64);
  std::vector<float> logits(vocab_);
  model_->Forward(ids_, 0, cache, act, logits.data());
  const json& detail = seq_["greedy_detail"];
  int32_t pos = static_cast<int32_t>(ids_.size());
  for (size_t step = 0; step < greedy.size(); ++step) {
    const int32_t next = static_cast<int32_t>(Argmax(logits.data(), vocab_));
    ASSERT_EQ(next, greedy[step].get<int32_t>()) << "greedy step " << step;
    const double max_logit = detail["max_logit"][step].get<double>();
    EXPECT_NEAR(logits[next], max_logit, Tolerance(GetParam().name, static_cast<float>(max_logit))) << "step " << step;
    const double lse = detail["logsumexp"][step].get<double>();
    EXPECT_NEAR(LogSumExp(logits.data(), vocab_), lse, Tolerance(GetParam().name, static_cast<float>(lse)))
        << "step " << step;
    if (step + 1 == greedy.size()) ExpectRowNear(logits.data(), detail["logits_last_step"], "last greedy step");
    if (step + 1 < greedy.size()) {
      const int32_t token[] = {next};
      model_->Forward(token, pos++, cache, act, logits.data());
    }
  }
}

// Token-by-token decoding and odd chunk sizes give the full-sequence logits: the sliding-window layers'
// trimming between chunks, the RoPE tables and the per-head norms all see positions the same way.
TEST_P(ArchZooGolden, IncrementalDecodingEqualsTheFullPass) {
  const ModelConfig& c = model_->config();
  KvCache full_cache(c.CacheShape(), ids_.size());
  const std::vector<float> full = AllLogits(64, full_cache);
  for (size_t batch : {size_t{1}, size_t{5}}) {
    KvCache cache(c.CacheShape(), ids_.size());
    const std::vector<float> chunked = AllLogits(batch, cache);
    float worst = 0;
    for (size_t i = 0; i < full.size(); ++i) worst = std::max(worst, std::fabs(chunked[i] - full[i]));
    EXPECT_LT(worst, GetParam().name == "gemma2" ? 5e-4f : 1e-4f) << "chunks of " << batch;
  }
}

// A layer with the model's own sliding window holds at most that window after each chunk, and Bytes() shows
// it; global layers keep every token.
TEST_P(ArchZooGolden, SlidingWindowLayersBoundTheirCache) {
  const ModelConfig& c = model_->config();
  KvCache cache(c.CacheShape(), ids_.size());
  Activations act(c, 1);
  std::vector<float> logits(vocab_);
  for (size_t i = 0; i < ids_.size(); ++i) {
    model_->Forward(std::span<const int32_t>(&ids_[i], 1), static_cast<int32_t>(i), cache, act, logits.data());
    for (size_t l = 0; l < static_cast<size_t>(c.n_layers); ++l) {
      const size_t want = c.Window(l) > 0 ? std::min<size_t>(i + 1, c.Window(l)) : i + 1;
      for (size_t h = 0; h < cache.n_kv_heads(); ++h) ASSERT_EQ(cache.Size(l, h), want) << "layer " << l << " token " << i;
    }
  }
  size_t slots = 0;
  for (size_t l = 0; l < static_cast<size_t>(c.n_layers); ++l) {
    slots += (c.Window(l) > 0 ? std::min<size_t>(ids_.size(), c.Window(l)) : ids_.size()) * cache.n_kv_heads();
  }
  EXPECT_EQ(cache.TotalSlots(), slots);
  const size_t per_slot = 2 * c.head_dim * sizeof(float) + sizeof(SlotMeta);
  EXPECT_EQ(cache.Bytes(), slots * per_slot);
}

INSTANTIATE_TEST_SUITE_P(Cases, ArchZooGolden, ::testing::ValuesIn(AllCases()), CaseName);

// The reference's derived values agree with how kvlab read each config.
TEST(ArchZooConfigs, WindowsAndScalesMatchTheReferenceDerivedValues) {
  KVLAB_REQUIRE_ASSETS();
  for (const auto& [name, c] : Reference()["cases"].items()) {
    const ModelConfig cfg = LoadModel(AssetsDir() / c["dir"].get<std::string>()).config;
    const json& d = c["derived"];
    SCOPED_TRACE(name);
    if (!d.contains("sliding_window_per_layer")) continue;
    ASSERT_EQ(d["sliding_window_per_layer"].size(), static_cast<size_t>(cfg.n_layers));
    for (size_t l = 0; l < d["sliding_window_per_layer"].size(); ++l) {
      const json& w = d["sliding_window_per_layer"][l];
      EXPECT_EQ(cfg.Window(l), w.is_null() ? 0 : w.get<int32_t>()) << "layer " << l;
    }
    if (d.contains("attention_scaling") && !d["attention_scaling"].is_null()) {
      EXPECT_NEAR(cfg.AttentionScale(), d["attention_scaling"].get<float>(), 1e-6);
    }
    if (d.contains("embed_scale") && !d["embed_scale"].is_null()) {
      EXPECT_NEAR(cfg.embed_scale, d["embed_scale"].get<float>(), 1e-5);
    }
    if (d.contains("rope_inv_freq_per_layer")) {
      for (size_t l = 0; l < d["rope_inv_freq_per_layer"].size(); ++l) {
        const std::vector<float> want = d["rope_inv_freq_per_layer"][l].get<std::vector<float>>();
        const RopeFrequencies got = cfg.LayerRopeFrequencies(l);
        ASSERT_EQ(got.inv_freq.size(), want.size()) << "layer " << l;
        for (size_t i = 0; i < want.size(); ++i) {
          EXPECT_NEAR(got.inv_freq[i], want[i], 1e-5f * std::fabs(want[i])) << "layer " << l << " pair " << i;
        }
      }
    }
  }
}

}  // namespace
}  // namespace kvlab
