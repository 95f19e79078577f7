// Presets, the random-weight generator and `init`'s directory handling (atomic, refuses to clobber).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "io_test_writers.h"
#include "kvlab/model/presets.h"
#include "kvlab/model/random_model.h"
#include "test_assets.h"

namespace kvlab::test {
namespace {

namespace fs = std::filesystem;

TEST(PresetsTest, AllValidAndFindable) {
  for (const char* name : {"llama-110m", "llama-15m", "gpt2-124m", "llama-tiny", "gpt2-tiny"}) {
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

}  // namespace
}  // namespace kvlab::test
