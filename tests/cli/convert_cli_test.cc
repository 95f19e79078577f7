// kvlab convert: a working conversion from the command line, and its one-line errors with a non-zero exit
// (missing input, unsupported architecture, an existing output without --force left untouched, bad --type).
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "test_assets.h"

namespace kvlab {
namespace {

using test::AssetsDir;
using test::RunKvlab;

std::string Quoted(const std::filesystem::path& p) { return "'" + p.string() + "'"; }

std::string ReadText(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void ExpectOneLineError(const test::CommandResult& r, const std::vector<std::string>& parts) {
  EXPECT_NE(r.exit_code, 0);
  for (const std::string& p : parts) EXPECT_NE(r.err.find(p), std::string::npos) << r.err << "\nmissing: " << p;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
}

TEST(ConvertCli, ConvertsAndTheResultGenerates) {
  KVLAB_REQUIRE_ASSETS();
  const auto dir = test::TempDir("convert-cli");
  const auto out = dir / "qwen3.gguf";
  const auto r = RunKvlab("convert " + Quoted(AssetsDir() / "models/arch-zoo/qwen3") + " -o " + Quoted(out) +
                          " --type bf16");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("general.architecture qwen3"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("bf16"), std::string::npos) << r.out;
  std::ofstream(dir / "ids.txt") << "1 2 3 4 5 6 7 8";
  const auto g = RunKvlab("ppl -m " + Quoted(out) + " --ids " + Quoted(dir / "ids.txt"));
  EXPECT_EQ(g.exit_code, 0) << g.err;
  // The directory has no tokenizer.json: the file says so (tokenizer.ggml.model "none", which llama.cpp
  // also needs to load it), and text commands ask for a tokenizer.
  ExpectOneLineError(RunKvlab("generate -m " + Quoted(out) + " -p hello -n 1"),
                     {"qwen3.gguf", "no embedded vocabulary", "tokenizer.ggml.model \"none\""});
}

TEST(ConvertCli, MissingInputIsAOneLineError) {
  const auto dir = test::TempDir("convert-cli");
  const auto r = RunKvlab("convert " + Quoted(dir / "no-such-model") + " -o " + Quoted(dir / "x.gguf"));
  ExpectOneLineError(r, {"no-such-model", "does not exist"});
  EXPECT_FALSE(std::filesystem::exists(dir / "x.gguf"));
}

TEST(ConvertCli, UnsupportedArchitectureIsAOneLineError) {
  const auto dir = test::TempDir("convert-cli");
  std::ofstream(dir / "config.json") << R"({"architectures": ["MambaForCausalLM"], "model_type": "mamba"})";
  const auto r = RunKvlab("convert " + Quoted(dir) + " -o " + Quoted(dir / "x.gguf"));
  ExpectOneLineError(r, {"config.json", "unsupported architecture MambaForCausalLM"});
  EXPECT_FALSE(std::filesystem::exists(dir / "x.gguf"));
  EXPECT_FALSE(std::filesystem::exists(dir / "x.gguf.tmp"));
}

TEST(ConvertCli, ExistingOutputIsKeptWithoutForce) {
  KVLAB_REQUIRE_ASSETS();
  const auto dir = test::TempDir("convert-cli");
  const auto out = dir / "m.gguf";
  std::ofstream(out) << "keep me";
  const std::string model = Quoted(AssetsDir() / "models/arch-zoo/phi3");
  const auto r = RunKvlab("convert " + model + " -o " + Quoted(out));
  ExpectOneLineError(r, {"m.gguf", "already exists", "--force"});
  EXPECT_EQ(ReadText(out), "keep me");
  const auto forced = RunKvlab("convert " + model + " -o " + Quoted(out) + " --force");
  ASSERT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_EQ(ReadText(out).substr(0, 4), "GGUF");
}

TEST(ConvertCli, BadTypeIsAOneLineError) {
  KVLAB_REQUIRE_ASSETS();
  const auto dir = test::TempDir("convert-cli");
  const auto r = RunKvlab("convert " + Quoted(AssetsDir() / "models/arch-zoo/phi3") + " -o " + Quoted(dir / "x.gguf") +
                          " --type q4_k");
  ExpectOneLineError(r, {"--type", "q4_k", "q8_0"});
  EXPECT_FALSE(std::filesystem::exists(dir / "x.gguf"));
}

TEST(ConvertCli, UnrepresentableCheckpointIsRefused) {
  KVLAB_REQUIRE_ASSETS();
  // The Shakespeare GPT-2 has an lm_head.bias, which llama.cpp's gpt2 layout has no tensor for.
  const auto dir = test::TempDir("convert-cli");
  const auto r = RunKvlab("convert " + Quoted(AssetsDir() / "models/shakespeare-char-gpt2") + " -o " +
                          Quoted(dir / "x.gguf"));
  ExpectOneLineError(r, {"config.json"});
  EXPECT_FALSE(std::filesystem::exists(dir / "x.gguf"));
}

}  // namespace
}  // namespace kvlab
