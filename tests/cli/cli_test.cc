// The kvlab program end to end: outputs on real models, --help everywhere, and bad input -> one-line
// error naming the culprit, non-zero exit, no crash, no half-written output.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "test_assets.h"

namespace kvlab {
namespace {

using test::AssetsDir;
using test::RunKvlab;
namespace fs = std::filesystem;

using test::Quote;

// A failed command must print exactly one line on stderr, starting "kvlab: error:", and mention `needle`.
void ExpectOneLineError(const test::CommandResult& r, const std::string& needle) {
  EXPECT_NE(r.exit_code, 0);
  EXPECT_LT(r.exit_code, 128) << "killed by a signal: " << r.err;
  EXPECT_EQ(r.err.rfind("kvlab: error: ", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << "expected '" << needle << "' in: " << r.err;
}

void WriteBytes(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary);
  out << bytes;
}

std::string ReadBytes(const fs::path& p, size_t limit = std::string::npos) {
  std::ifstream in(p, std::ios::binary);
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return s.substr(0, std::min(limit, s.size()));
}

TEST(Cli, HelpOnEverySubcommand) {
  for (const char* sub : {"generate", "inspect", "init", "bench", "ppl", "fidelity", "gen-compare", "sweep", "analyze",
                          "report", "convert", "tokenize"}) {
    auto r = RunKvlab(std::string(sub) + " --help");
    EXPECT_EQ(r.exit_code, 0) << sub;
    EXPECT_NE(r.out.find("--help"), std::string::npos) << sub;
  }
}

TEST(Cli, GreedyGenerationOfStories260KMatchesReference) {
  KVLAB_REQUIRE_ASSETS();
  const auto ref = test::ReadJson(AssetsDir() / "reference" / "tinystories_models_reference.json");
  auto r = RunKvlab("generate -m " + Quote(AssetsDir() / "models" / "stories260K" / "stories260K.bin") +
                    " --temp 0 -n 200 --ignore-eos -t 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // stdout: the (empty) prompt, the 200 generated tokens' text, a newline.
  EXPECT_EQ(r.out, ref["stories260K"]["greedy_from_bos"]["text"].get<std::string>() + "\n");
}

TEST(Cli, ShortModelNamesResolveInAssets) {
  KVLAB_REQUIRE_ASSETS();
  for (const char* name : {"stories260K", "tinystories-656k", "shakespeare-char-gpt2"}) {
    auto r = RunKvlab(std::string("inspect --json ") + name);
    ASSERT_EQ(r.exit_code, 0) << name << ": " << r.err;
    auto j = nlohmann::json::parse(r.out);
    EXPECT_GT(j["parameters"].get<int64_t>(), 0);
  }
  auto r = RunKvlab("inspect --json stories260K");
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["architecture"], "llama");
  EXPECT_EQ(j["n_kv_heads"], 4);
  // 5 layers x 2 (K,V) x 4 kv heads x 8 head_dim x 4 bytes.
  EXPECT_EQ(j["kv_bytes_per_token_f32"], 5 * 2 * 32 * 4);
}

TEST(Cli, UnknownModelNameIsOneLineError) {
  KVLAB_REQUIRE_ASSETS();
  ExpectOneLineError(RunKvlab("generate -m no-such-model -n 1"), "no-such-model");
}

TEST(Cli, TruncatedAndCorruptModelFilesAreOneLineErrors) {
  KVLAB_REQUIRE_ASSETS();
  const fs::path dir = test::TempDir("cli-bad");
  const fs::path models = AssetsDir() / "models";
  const std::string gguf = ReadBytes(models / "stories260K" / "stories260K-v1.gguf");
  const std::string bin = ReadBytes(models / "stories260K" / "stories260K.bin");

  WriteBytes(dir / "truncated.gguf", gguf.substr(0, gguf.size() / 2));
  ExpectOneLineError(RunKvlab("generate -n 1 -m " + Quote(dir / "truncated.gguf")), "truncated.gguf");

  std::string bad_magic = gguf;
  bad_magic[0] = 'X';
  WriteBytes(dir / "magic.gguf", bad_magic);
  ExpectOneLineError(RunKvlab("generate -n 1 -m " + Quote(dir / "magic.gguf")), "magic.gguf");

  WriteBytes(dir / "short.bin", bin.substr(0, bin.size() - 100));
  ExpectOneLineError(RunKvlab("inspect " + Quote(dir / "short.bin")), "short.bin");

  WriteBytes(dir / "tiny.bin", bin.substr(0, 10));
  ExpectOneLineError(RunKvlab("inspect " + Quote(dir / "tiny.bin")), "tiny.bin");

  // A Hugging Face directory whose config.json is not JSON.
  fs::create_directories(dir / "hf");
  WriteBytes(dir / "hf" / "config.json", "{\"architectures\": [\"LlamaForCausalLM\"], ");
  ExpectOneLineError(RunKvlab("inspect " + Quote(dir / "hf")), "config.json");

  // An architecture kvlab does not know.
  fs::create_directories(dir / "arch");
  WriteBytes(dir / "arch" / "config.json", R"({"architectures": ["MambaForCausalLM"], "model_type": "mamba"})");
  ExpectOneLineError(RunKvlab("inspect " + Quote(dir / "arch")), "Mamba");
}

TEST(Cli, BadFlagValuesAreRejected) {
  KVLAB_REQUIRE_ASSETS();
  ExpectOneLineError(RunKvlab("generate -m stories260K --top-p 2 -n 1"), "--top-p");
  ExpectOneLineError(RunKvlab("generate -m stories260K --temp -1 -n 1"), "--temp");
  ExpectOneLineError(RunKvlab("generate -m stories260K -c 4 -p 'a long prompt that does not fit' -n 1"), "-p");
}

TEST(Cli, InitThenBenchOnATinyRandomModel) {
  const fs::path dir = test::TempDir("cli-init") / "tiny";
  auto r = RunKvlab("init --preset llama-tiny --out " + Quote(dir) + " --seed 3");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(dir / "config.json"));
  EXPECT_TRUE(fs::exists(dir / "model.safetensors"));
  r = RunKvlab("bench --json --no-membw -m " + Quote(dir) + " -p 16 -n 8 -r 1 -t 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_GT(j["prefill_tok_s"].get<double>(), 0);
  EXPECT_GT(j["decode_tok_s"].get<double>(), 0);
  // Where the step went: its regions by kind and the time between them add up to the step (one
  // repetition: the mean step is that repetition's), and one thread never waits for another.
  {
    const auto& phases = j["phases"];
    const double weights = phases["weights_ms"].get<double>(),
                 attention = phases["attention_ms"].get<double>();
    EXPECT_GT(weights, 0);
    EXPECT_GT(attention, 0);
    EXPECT_EQ(phases["other_regions_ms"].get<double>(), 0);  // `full` evicts nothing
    const double sum = weights + attention + phases["between_regions_ms"].get<double>();
    EXPECT_NEAR(sum, j["decode_ms_per_token"].get<double>(), 1e-9 * sum);
    EXPECT_EQ(phases["wait_ms"].get<double>(), 0);
    EXPECT_NEAR(phases["weights_gb_s"].get<double>(), j["weight_bytes"].get<double>() / (weights * 1e6),
                1e-9 * phases["weights_gb_s"].get<double>());
    EXPECT_EQ(j["by_depth"][0]["phases"], phases);
  }
  // With the bound measured, its probe passes among the steps stay out of the steps' time and regions.
  r = RunKvlab("bench --json -m " + Quote(dir) + " -p 0 -n 40 -r 1 -t 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  j = nlohmann::json::parse(r.out);
  EXPECT_GT(j["membw_gb_s"].get<double>(), 0);
  EXPECT_GT(j["probe_mean_of_bound"].get<double>(), 0);
  EXPECT_LE(j["probe_mean_of_bound"].get<double>(), 1);
  EXPECT_GT(j["plain_read_of_bound"].get<double>(), 0);  // the bound is the faster of two reads
  EXPECT_LE(j["plain_read_of_bound"].get<double>(), 1);
  EXPECT_EQ(j["phases"]["other_regions_ms"].get<double>(), 0);
  EXPECT_FALSE(j["probe_matvecs"].get<bool>());
  // The step's ceiling: its mat-vecs only read their weights; it still runs every region and the attention.
  r = RunKvlab("bench --json --no-membw --probe-matvecs -m " + Quote(dir) + " -p 0 -n 8 -r 1 -t 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  j = nlohmann::json::parse(r.out);
  EXPECT_TRUE(j["probe_matvecs"].get<bool>());
  EXPECT_GT(j["phases"]["weights_ms"].get<double>(), 0);
  EXPECT_GT(j["phases"]["attention_ms"].get<double>(), 0);
  // A composed policy with a quantized cache goes through bench's timing wrapper intact.
  r = RunKvlab("bench --json --no-membw -m " + Quote(dir) + " -p 16 -n 8 -r 1 -t 1 --kv 'h2o:budget=8,recent=2+quant:k=int8,v=int4'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["kv"], "h2o:budget=8,recent=2+quant:k=int8,v=int4");
  EXPECT_GT(j["policy_bytes"].get<int64_t>(), 0);
  EXPECT_GT(j["kv_bytes"].get<int64_t>(), 0);
  // The hooks' time: Observe summed over threads, and what the step waits for (the busiest thread's
  // Observe, which on one thread is all of it), each with Compress.
  const double observe = j["policy_observe_ms_per_token"].get<double>();
  const double compress = j["policy_compress_ms_per_token"].get<double>();
  EXPECT_GT(observe, 0);
  EXPECT_DOUBLE_EQ(j["policy_observe_busiest_ms_per_token"].get<double>(), observe);
  EXPECT_DOUBLE_EQ(j["policy_wall_ms_per_token"].get<double>(), observe + compress);
  EXPECT_DOUBLE_EQ(j["policy_wall_fraction_of_step"].get<double>(), j["policy_fraction_of_step"].get<double>());
  ExpectOneLineError(RunKvlab("bench --no-membw -m " + Quote(dir) + " --kv 'h2o:budget=8,recnt=2'"), "recnt");
  // A list of depths: one decode test per depth; the full cache grows with it, a window does not.
  for (const std::string kv : {"full", "window:budget=16"}) {
    r = RunKvlab("bench --json --no-membw -m " + Quote(dir) + " -p 0 -d 16,48 -n 4 -r 1 -t 1 --kv " + kv);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    j = nlohmann::json::parse(r.out);
    ASSERT_EQ(j["by_depth"].size(), 2u);
    EXPECT_EQ(j["by_depth"][0]["depth"], 16);
    EXPECT_EQ(j["by_depth"][1]["depth"], 48);
    EXPECT_GT(j["by_depth"][1]["decode_ms_per_token"].get<double>(), 0);
    const auto kv16 = j["by_depth"][0]["kv_bytes"].get<int64_t>(), kv48 = j["by_depth"][1]["kv_bytes"].get<int64_t>();
    if (kv == "full") {
      EXPECT_GT(kv48, kv16);
    } else {
      EXPECT_EQ(kv48, kv16);
    }
    EXPECT_GT(j["peak_rss_bytes"].get<int64_t>(), 0);
  }
  ExpectOneLineError(RunKvlab("bench --no-membw -m " + Quote(dir) + " -d 16,x"), "-d");
  // Refuses to overwrite without --force, and leaves the existing model intact.
  const std::string before = ReadBytes(dir / "model.safetensors");
  ExpectOneLineError(RunKvlab("init --preset llama-tiny --out " + Quote(dir)), dir.filename().string());
  EXPECT_EQ(ReadBytes(dir / "model.safetensors"), before);
}

}  // namespace
}  // namespace kvlab
