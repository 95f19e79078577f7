// GGUF vocabularies on small synthetic files: tokenizer.json -> tokenizer.* keys (WriteHfVocabToGguf) and back
// (LoadGgufTokenizer), and the one-line errors for metadata kvlab cannot read or tokenizer.json it cannot write.
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <variant>
#include <vector>

#include "kvlab/io/gguf.h"
#include "kvlab/io/gguf_writer.h"
#include "kvlab/tokenizer/byte_level.h"
#include "kvlab/tokenizer/gguf_vocab.h"
#include "kvlab/tokenizer/gguf_vocab_writer.h"
#include "kvlab/util/error.h"
#include "test_assets.h"

namespace kvlab {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kLlama3Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// The 256 byte characters, then "ab" and "Ġab" (merges "a b", "Ġ ab").
std::vector<std::string> ByteLevelTokens() {
  std::vector<std::string> tokens;
  for (int b = 0; b < 256; ++b) tokens.push_back(ByteLevelChar(static_cast<uint8_t>(b)));
  tokens.push_back("ab");
  tokens.push_back("\u0120ab");
  return tokens;
}

// A byte-level GGUF vocabulary with these pre-tokenizer name, token types (empty: all normal) and merges.
fs::path WriteGgufVocab(const std::string& pre, std::vector<int32_t> types, std::vector<std::string> merges) {
  const std::vector<std::string> tokens = ByteLevelTokens();
  if (types.empty()) types.assign(tokens.size(), 1);
  GgufWriter w;
  w.SetString("general.architecture", "llama");
  w.SetString("tokenizer.ggml.model", "gpt2");
  if (!pre.empty()) w.SetString("tokenizer.ggml.pre", pre);
  w.SetStringArray("tokenizer.ggml.tokens", tokens);
  w.SetI32Array("tokenizer.ggml.token_type", types);
  w.SetStringArray("tokenizer.ggml.merges", merges);
  const fs::path path = test::TempDir("gguf-vocab-unit") / "vocab.gguf";
  w.Write(path);
  return path;
}

// The message of the kvlab::Error `load` throws ("" if none).
template <typename F>
std::string ErrorOf(F load) {
  try {
    load();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

void ExpectOneLine(const std::string& message, const std::vector<std::string>& parts) {
  ASSERT_FALSE(message.empty()) << "no error";
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  for (const std::string& p : parts) EXPECT_NE(message.find(p), std::string::npos) << message << "\nmissing: " << p;
}

TEST(GgufVocabRead, UnknownPreTokenizerNamesKeyAndValue) {
  const fs::path path = WriteGgufVocab("deepseek-llm", {}, {"a b"});
  ExpectOneLine(ErrorOf([&] { LoadTokenizerFile(path); }), {"tokenizer.ggml.pre", "deepseek-llm", "llama-bpe"});
}

TEST(GgufVocabRead, BadTokenTypesNameTheKey) {
  std::vector<int32_t> types(258, 1);
  types[7] = 9;
  ExpectOneLine(ErrorOf([&] { LoadTokenizerFile(WriteGgufVocab("gpt-2", types, {"a b"})); }),
                {"tokenizer.ggml.token_type", "unknown type 9"});
  ExpectOneLine(ErrorOf([&] { LoadTokenizerFile(WriteGgufVocab("gpt-2", std::vector<int32_t>(5, 1), {"a b"})); }),
                {"tokenizer.ggml.token_type", "5 entries", "258 tokens"});
}

TEST(GgufVocabRead, BadMergeNamesTheKey) {
  ExpectOneLine(ErrorOf([&] { LoadTokenizerFile(WriteGgufVocab("gpt-2", {}, {"a b", "ab"})); }),
                {"tokenizer.ggml.merges[1]", "\"ab\""});
  ExpectOneLine(ErrorOf([&] { LoadTokenizerFile(WriteGgufVocab("gpt-2", {}, {"a zz"})); }), {"merge 0", "a zz"});
}

TEST(GgufVocabRead, KnownPreTokenizerTypesLoad) {
  for (const char* pre : {"", "gpt-2", "gpt2", "llama-bpe", "qwen2"}) {
    const auto tok = LoadTokenizerFile(WriteGgufVocab(pre, {}, {"a b", "\u0120 ab"}));
    EXPECT_EQ(tok->Encode(" ab", false), (std::vector<int32_t>{257})) << pre;
  }
}

// A byte-level tokenizer.json with one special and one non-special added token.
fs::path WriteHfDir(const json& pre_tokenizer, const json& config) {
  json vocab = json::object();
  const std::vector<std::string> tokens = ByteLevelTokens();
  for (size_t id = 0; id < tokens.size(); ++id) vocab[tokens[id]] = id;
  const json tokenizer = {
      {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", {"a b", "\u0120 ab"}}, {"byte_fallback", false}}},
      {"added_tokens",
       {{{"id", 258}, {"content", "<|eot|>"}, {"special", true}}, {{"id", 259}, {"content", "<think>"}, {"special", false}}}},
      {"pre_tokenizer", pre_tokenizer},
      {"decoder", {{"type", "ByteLevel"}}}};
  const fs::path dir = test::TempDir("gguf-vocab-hf");
  std::ofstream(dir / "tokenizer.json") << tokenizer.dump();
  std::ofstream(dir / "tokenizer_config.json") << config.dump();
  return dir;
}

json Llama3PreTokenizer(const std::string& regex) {
  return {{"type", "Sequence"},
          {"pretokenizers",
           {{{"type", "Split"}, {"pattern", {{"Regex", regex}}}, {"behavior", "Isolated"}, {"invert", false}},
            {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}};
}

fs::path WriteGgufFromHf(const fs::path& dir, GgufVocabDefaults d) {
  GgufWriter w;
  w.SetString("general.architecture", "llama");
  EXPECT_TRUE(WriteHfVocabToGguf(dir, d, w).has_value());
  w.Write(dir / "vocab.gguf");
  return dir / "vocab.gguf";
}

TEST(GgufVocabWrite, ByteLevelRoundTripsWithAddedTokensAndPadding) {
  const fs::path dir = WriteHfDir(Llama3PreTokenizer(kLlama3Regex),
                                  {{"eos_token", "<|eot|>"}, {"chat_template", "{{ messages }}"}});
  const fs::path path = WriteGgufFromHf(dir, {.vocab_size = 262, .bos_id = -1, .eos_id = 5});
  const GgufFile g = GgufFile::Open(path);
  EXPECT_EQ(g.GetString("tokenizer.ggml.pre"), "llama-bpe");
  EXPECT_EQ(g.GetInt("tokenizer.ggml.eos_token_id"), 258);  // tokenizer_config.json before config.json
  EXPECT_EQ(g.GetString("tokenizer.chat_template"), "{{ messages }}");
  const std::vector<std::string>& tokens = g.GetStringArray("tokenizer.ggml.tokens");
  ASSERT_EQ(tokens.size(), 262u);
  EXPECT_EQ(tokens[261], "[PAD261]");
  EXPECT_EQ(g.GetIntArray("tokenizer.ggml.token_type")[258], 3);  // control
  EXPECT_EQ(g.GetIntArray("tokenizer.ggml.token_type")[259], 4);  // user-defined
  EXPECT_EQ(g.GetIntArray("tokenizer.ggml.token_type")[261], 5);  // unused
  EXPECT_FALSE(std::get<bool>(g.metadata().at("tokenizer.ggml.add_bos_token")));  // ByteLevel adds nothing

  const auto tok = LoadTokenizerFile(path);
  EXPECT_EQ(tok->Encode("x<think> ab<|eot|>", EncodeOptions{.parse_special = true}),
            (std::vector<int32_t>{'x', 259, 257, 258}));
  const std::vector<int32_t> as_text = tok->Encode("<think><|eot|>", EncodeOptions{.parse_special = false});
  EXPECT_EQ(as_text.front(), 259);  // non-special: recognised either way
  EXPECT_GT(as_text.size(), 2u);    // special: text unless asked
  EXPECT_EQ(tok->Decode({259, 257, 258}), "<think> ab");
}

TEST(GgufVocabWrite, UnknownPreTokenizerRegexIsAOneLineError) {
  const fs::path dir = WriteHfDir(Llama3PreTokenizer(R"(\p{L}+|\p{N}+)"), json::object());
  GgufWriter w;
  ExpectOneLine(ErrorOf([&] { WriteHfVocabToGguf(dir, {}, w); }), {"tokenizer.json", "pre_tokenizer", "llama-bpe"});
}

TEST(GgufVocabWrite, TokensBeyondTheModelsVocabularyAreAOneLineError) {
  const fs::path dir = WriteHfDir(Llama3PreTokenizer(kLlama3Regex), json::object());
  GgufWriter w;
  ExpectOneLine(ErrorOf([&] { WriteHfVocabToGguf(dir, {.vocab_size = 200}, w); }),
                {"tokenizer.json", "259", "vocab_size 200"});
}

TEST(GgufVocabWrite, NoTokenizerJsonWritesNothing) {
  GgufWriter w;
  EXPECT_FALSE(WriteHfVocabToGguf(test::TempDir("gguf-vocab-none"), {}, w).has_value());
}

}  // namespace
}  // namespace kvlab
