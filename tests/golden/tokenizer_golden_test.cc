// Tokenizers against real vocabularies and independent references:
//   - llama.cpp's tokenizer tests (models/ggml-vocab-*.gguf.inp/.out), split exactly as test-tokenizer-0.cpp
//     does (separator "\n__ggml_vocab_test__\n", ids without BOS, add_special = parse_special = false),
//     against the GGUF vocabularies where shared and against the same families' tokenizer.json;
//   - the eval text and greedy generations in reference/tinystories_models_reference.json;
//   - encode -> decode round trips of arbitrary UTF-8 for every tokenizer kind.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "kvlab/tokenizer/tokenizer.h"
#include "kvlab/tokenizer/utf8.h"
#include "kvlab/util/error.h"
#include "test_assets.h"

namespace kvlab {
namespace {

namespace fs = std::filesystem;
using test::AssetsDir;

std::string Slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << "cannot open " << path;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct VocabCase {
  std::string text;
  std::vector<int32_t> ids;
};

// llama.cpp tests/test-tokenizer-0.cpp read_tests(): inputs are cut at "\n__ggml_vocab_test__\n" (so the
// file's final separator leaves no empty trailing case), outputs are one line of ids per input.
std::vector<VocabCase> ReadVocabCases(const fs::path& gguf) {
  const std::string raw = Slurp(gguf.string() + ".inp");
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> inputs;
  for (size_t pos = 0; pos < raw.size();) {
    const size_t next = raw.find(sep, pos);
    if (next == std::string::npos) {
      inputs.push_back(raw.substr(pos));
      break;
    }
    inputs.push_back(raw.substr(pos, next - pos));
    pos = next + sep.size();
  }
  std::istringstream out(Slurp(gguf.string() + ".out"));
  std::vector<VocabCase> cases;
  std::string line;
  for (size_t i = 0; std::getline(out, line); ++i) {
    VocabCase c;
    if (i < inputs.size()) c.text = inputs[i];
    std::istringstream ids(line);
    for (int32_t id; ids >> id;) c.ids.push_back(id);
    cases.push_back(std::move(c));
  }
  EXPECT_EQ(inputs.size(), cases.size()) << gguf;
  return cases;
}

std::string Join(const std::vector<int32_t>& ids) {
  std::string s;
  for (int32_t id : ids) s += (s.empty() ? "" : " ") + std::to_string(id);
  return s;
}

// Runs every case; reports each failure with both id lists, and the pass count.
void CheckVocabCases(const Tokenizer& tok, const fs::path& cases_of) {
  const std::vector<VocabCase> cases = ReadVocabCases(cases_of);
  ASSERT_GT(cases.size(), 40u);
  size_t passed = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const VocabCase& c = cases[i];
    const std::vector<int32_t> got = tok.Encode(c.text, /*add_bos=*/false);
    EXPECT_EQ(Join(got), Join(c.ids))
        << "case " << i << " of " << cases_of.filename() << ": \"" << c.text << "\"";
    EXPECT_EQ(tok.Decode(c.ids), c.text) << "decode of case " << i << " of " << cases_of.filename();
    if (got == c.ids) ++passed;
  }
  std::cout << "[ vocab    ] " << cases_of.filename().string() << " (" << tok.Kind() << "): " << passed << "/"
            << cases.size() << " cases match\n";
  ::testing::Test::RecordProperty("cases_passed", static_cast<int>(passed));
}

fs::path VocabDir() { return AssetsDir() / "tokenizers" / "gguf-vocab"; }

TEST(TokenizerGolden, LlamaSpmGgufMatchesLlamaCpp) {
  KVLAB_REQUIRE_ASSETS();
  const fs::path gguf = VocabDir() / "ggml-vocab-llama-spm.gguf";
  auto tok = LoadTokenizerFile(gguf);
  EXPECT_EQ(tok->Kind(), "sentencepiece");
  EXPECT_EQ(tok->vocab_size(), 32000);
  EXPECT_EQ(tok->bos_id(), 1);
  EXPECT_EQ(tok->eos_id(), 2);
  EXPECT_TRUE(tok->add_bos_default());
  CheckVocabCases(*tok, gguf);
}

TEST(TokenizerGolden, Gpt2GgufMatchesLlamaCpp) {
  KVLAB_REQUIRE_ASSETS();
  const fs::path gguf = VocabDir() / "ggml-vocab-gpt-2.gguf";
  auto tok = LoadTokenizerFile(gguf);
  EXPECT_EQ(tok->Kind(), "gpt2-bpe");
  EXPECT_EQ(tok->vocab_size(), 50257);
  EXPECT_EQ(tok->eos_id(), 50256);
  EXPECT_FALSE(tok->add_bos_default());
  CheckVocabCases(*tok, gguf);
}

// The OpenAI files are the same vocabulary, so they must give llama.cpp's expected ids too.
TEST(TokenizerGolden, Gpt2EncoderJsonMatchesLlamaCpp) {
  KVLAB_REQUIRE_ASSETS();
  auto tok = LoadTokenizerFile(AssetsDir() / "tokenizers" / "gpt2");
  EXPECT_EQ(tok->Kind(), "gpt2-bpe");
  EXPECT_EQ(tok->vocab_size(), 50257);
  EXPECT_EQ(tok->Decode({50256}), "");  // <|endoftext|> is special
  CheckVocabCases(*tok, VocabDir() / "ggml-vocab-gpt-2.gguf");
  // Also reachable through either file of the pair.
  EXPECT_EQ(LoadTokenizerFile(AssetsDir() / "tokenizers" / "gpt2" / "encoder.json")->vocab_size(), 50257);
  EXPECT_EQ(LoadTokenizerFile(AssetsDir() / "tokenizers" / "gpt2" / "vocab.bpe")->vocab_size(), 50257);
}

// llama.cpp's test files for Llama 3 ("llama-bpe") and Qwen2 hold strings and the ids Hugging Face
// transformers gives them; the GGUF vocabularies themselves are not shared, but the same vocabularies'
// tokenizer.json must give the same ids.
TEST(TokenizerGolden, Llama3TokenizerJsonMatchesLlamaBpeCases) {
  KVLAB_REQUIRE_ASSETS();
  auto tok = LoadTokenizerFile(AssetsDir() / "tokenizers" / "llama3" / "tokenizer.json");
  EXPECT_EQ(tok->Kind(), "hf-bpe");
  CheckVocabCases(*tok, VocabDir() / "ggml-vocab-llama-bpe.gguf");
}

TEST(TokenizerGolden, Qwen3TokenizerJsonMatchesQwen2Cases) {
  KVLAB_REQUIRE_ASSETS();
  auto tok = LoadTokenizerFile(AssetsDir() / "tokenizers" / "qwen3" / "tokenizer.json");
  CheckVocabCases(*tok, VocabDir() / "ggml-vocab-qwen2.gguf");
}

nlohmann::json Reference() {
  return test::ReadJson(AssetsDir() / "reference" / "tinystories_models_reference.json");
}

std::vector<int32_t> Ids(const nlohmann::json& j) { return j.get<std::vector<int32_t>>(); }

// Streams ids the way generation prints them: each token decoded against its predecessor, starting at BOS.
std::string Stream(const Tokenizer& tok, int32_t start, const std::vector<int32_t>& ids) {
  std::string text;
  int32_t prev = start;
  for (int32_t id : ids) {
    text += tok.DecodeToken(prev, id);
    prev = id;
  }
  return text;
}

void CheckStories260K(const Tokenizer& tok) {
  const nlohmann::json ref = Reference();
  const std::string eval_text = ref["eval_text"].get<std::string>();
  const auto& model = ref["stories260K"];
  EXPECT_EQ(tok.vocab_size(), 512);
  EXPECT_EQ(tok.bos_id(), 1);
  EXPECT_EQ(tok.eos_id(), 2);
  EXPECT_EQ(Join(tok.Encode(eval_text, /*add_bos=*/true)), Join(Ids(model["eval"]["token_ids"])));
  EXPECT_EQ(tok.Decode(tok.Encode(eval_text, true)), eval_text);

  const std::vector<int32_t> generated = Ids(model["greedy_from_bos"]["generated_ids"]);
  const std::string text = model["greedy_from_bos"]["text"].get<std::string>();
  EXPECT_EQ(Stream(tok, tok.bos_id(), generated), text);
  std::vector<int32_t> with_bos{tok.bos_id()};
  with_bos.insert(with_bos.end(), generated.begin(), generated.end());
  EXPECT_EQ(tok.Decode(with_bos), text);
}

TEST(TokenizerGolden, Stories260KLlama2cTokenizerBin) {
  KVLAB_REQUIRE_ASSETS();
  auto tok = LoadTokenizerFile(AssetsDir() / "models" / "stories260K" / "tok512.bin");
  EXPECT_EQ(tok->Kind(), "sentencepiece");
  CheckStories260K(*tok);
}

TEST(TokenizerGolden, Stories260KGgufV1Vocabulary) {
  KVLAB_REQUIRE_ASSETS();
  auto tok = LoadTokenizerFile(AssetsDir() / "models" / "stories260K" / "stories260K-v1.gguf");
  EXPECT_EQ(tok->Kind(), "sentencepiece");
  CheckStories260K(*tok);
}

TEST(TokenizerGolden, TinyStories656KTokenizerJson) {
  KVLAB_REQUIRE_ASSETS();
  auto tok = LoadTokenizerFile(AssetsDir() / "models" / "tinystories-656k" / "tokenizer.json");
  EXPECT_EQ(tok->Kind(), "hf-bpe");
  EXPECT_EQ(tok->vocab_size(), 2048);
  EXPECT_EQ(tok->bos_id(), 1);
  EXPECT_EQ(tok->eos_id(), 2);
  EXPECT_TRUE(tok->add_bos_default());

  const nlohmann::json ref = Reference();
  const std::string eval_text = ref["eval_text"].get<std::string>();
  const auto& model = ref["TinyStories-656K"];
  EXPECT_EQ(Join(tok->Encode(eval_text, /*add_bos=*/true)), Join(Ids(model["eval"]["token_ids"])));
  EXPECT_EQ(tok->Decode(tok->Encode(eval_text, true)), eval_text);

  // The model spells "<|end_story|>" out in ordinary pieces ("<|", "end", "_story", "|>") just before it
  // emits the real EOS (id 2), which decodes to nothing: text_until_eos ends with the spelled-out form.
  std::vector<int32_t> generated = Ids(model["greedy_from_bos"]["generated_ids"]);
  const auto eos = std::find(generated.begin(), generated.end(), tok->eos_id());
  ASSERT_NE(eos, generated.end());
  generated.erase(eos + 1, generated.end());
  const std::string expected = model["greedy_from_bos"]["text_until_eos"].get<std::string>();
  EXPECT_EQ(tok->DecodeToken(generated[generated.size() - 2], tok->eos_id()), "");
  EXPECT_EQ(Stream(*tok, tok->bos_id(), generated), expected);
  EXPECT_EQ(tok->Piece(tok->eos_id()), "<|end_story|>");
  // A special token written in the text is recognised as that token when asked, not spelled out.
  const std::vector<int32_t> with_special =
      tok->Encode("The end.<|end_story|>", EncodeOptions{.parse_special = true});
  ASSERT_FALSE(with_special.empty());
  EXPECT_EQ(with_special.back(), tok->eos_id());
}

TEST(TokenizerGolden, ShakespeareCharVocab) {
  KVLAB_REQUIRE_ASSETS();
  auto tok = LoadTokenizerFile(AssetsDir() / "models" / "shakespeare-char-gpt2" / "vocab.json");
  EXPECT_EQ(tok->Kind(), "char");
  EXPECT_EQ(tok->vocab_size(), 65);
  EXPECT_EQ(tok->bos_id(), -1);
  const nlohmann::json ref =
      test::ReadJson(AssetsDir() / "reference" / "shakespeare_char_gpt2_reference.json");
  const std::string text = ref["greedy_from_newline_200"].get<std::string>();
  const std::vector<int32_t> ids = Ids(ref["greedy_ids"]);
  EXPECT_EQ(tok->Encode(text, /*add_bos=*/true), ids);  // no BOS to add
  EXPECT_EQ(tok->Decode(ids), text);
  const std::string play = Slurp(AssetsDir() / "text" / "tinyshakespeare.txt");
  EXPECT_EQ(tok->Decode(tok->Encode(play, false)), play);
  EXPECT_THROW(tok->Encode("café", false), Error);
}

// LoadTokenizer finds each model's own tokenizer next to it (no LoadModel needed: only format, path and
// vocabulary size matter).
TEST(TokenizerGolden, LoadTokenizerFindsEachModelsVocabulary) {
  KVLAB_REQUIRE_ASSETS();
  const fs::path models = AssetsDir() / "models";
  struct Case {
    ModelFormat format;
    fs::path path;
    int32_t vocab;
    const char* kind;
  };
  const Case cases[] = {
      {ModelFormat::kLlama2c, models / "stories260K" / "stories260K.bin", 512, "sentencepiece"},
      {ModelFormat::kGguf, models / "stories260K" / "stories260K-v1.gguf", 512, "sentencepiece"},
      {ModelFormat::kSafetensors, models / "tinystories-656k", 2048, "hf-bpe"},
      {ModelFormat::kSafetensors, models / "tinystories-656k" / "model.safetensors", 2048, "hf-bpe"},
      {ModelFormat::kSafetensors, models / "shakespeare-char-gpt2", 65, "char"},
  };
  for (const Case& c : cases) {
    TokenizerSource model;
    model.format = c.format;
    model.path = c.path;
    model.vocab_size = c.vocab;
    auto tok = LoadTokenizer(model);
    EXPECT_EQ(tok->Kind(), c.kind) << c.path;
    EXPECT_EQ(tok->vocab_size(), c.vocab) << c.path;
  }
  // An explicit tokenizer wins, and one larger than the model's vocabulary is refused.
  TokenizerSource model;
  model.format = ModelFormat::kSafetensors;
  model.path = models / "shakespeare-char-gpt2";
  model.vocab_size = 65;
  EXPECT_THROW(LoadTokenizer(model, AssetsDir() / "tokenizers" / "gpt2"), Error);
  model.vocab_size = 50304;  // padded GPT-2
  EXPECT_EQ(LoadTokenizer(model, AssetsDir() / "tokenizers" / "gpt2")->Kind(), "gpt2-bpe");
}

// Random valid UTF-8: a mix of ASCII, whitespace runs, accented Latin, CJK, emoji (with ZWJ and variation
// selectors), and random bytes made valid by replacing malformed sequences with U+FFFD.
std::string RandomText(std::mt19937& rng) {
  static const char* const kPieces[] = {" ",        "  ",
                                        "   ",      "\t",
                                        "\n",       "\n\n",
                                        " \n ",     "\r\n",
                                        "a",        "the",
                                        "The",      " Hello",
                                        "world",    ",",
                                        ".",        "!",
                                        "?",        "'s",
                                        "'ll",      "3",
                                        "333",      "é",
                                        "ü",        "ß",
                                        "Ω",        "я",
                                        "中",       "文字",
                                        "日本語",   "한국어",
                                        "🦙",     "😀",
                                        "👍🏽", "😶‍🌫️",
                                        "✅",        "\u00a0",
                                        "\u3000",   "…",
                                        "—",        "\u200b",
                                        "x̃",        "ﬁ"};
  std::uniform_int_distribution<int> n_pieces(0, 24), pick(0, std::size(kPieces) - 1), coin(0, 5);
  std::uniform_int_distribution<int> byte(0, 255), n_bytes(1, 8);
  std::string s;
  for (int i = n_pieces(rng); i > 0; --i) {
    if (coin(rng) == 0) {
      std::string raw;
      for (int k = n_bytes(rng); k > 0; --k) raw.push_back(static_cast<char>(byte(rng)));
      s += SanitizeUtf8(raw);
    } else {
      s += kPieces[pick(rng)];
    }
  }
  return s;
}

void CheckRoundTrips(const Tokenizer& tok, bool byte_complete) {
  std::mt19937 rng(1234);
  int failures = 0;
  for (int i = 0; i < 300 && failures < 5; ++i) {
    const std::string text = RandomText(rng);
    for (bool bos : {false, true}) {
      const std::vector<int32_t> ids = tok.Encode(text, bos);
      for (int32_t id : ids) ASSERT_TRUE(id >= 0 && id < tok.vocab_size()) << id;
      if (!byte_complete) continue;
      const std::string back = tok.Decode(ids);
      if (back != text) ++failures;
      EXPECT_EQ(back, text) << tok.Kind() << " ids " << Join(ids);
    }
  }
}

TEST(TokenizerGolden, RoundTripArbitraryUtf8) {
  KVLAB_REQUIRE_ASSETS();
  // Byte fallback (SentencePiece) and byte-level BPE (GPT-2) represent every string exactly.
  CheckRoundTrips(*LoadTokenizerFile(VocabDir() / "ggml-vocab-llama-spm.gguf"), true);
  CheckRoundTrips(*LoadTokenizerFile(AssetsDir() / "models" / "stories260K" / "tok512.bin"), true);
  CheckRoundTrips(*LoadTokenizerFile(VocabDir() / "ggml-vocab-gpt-2.gguf"), true);
  CheckRoundTrips(*LoadTokenizerFile(AssetsDir() / "tokenizers" / "gpt2"), true);
  // TinyStories-656K has byte_fallback but no <0xXX> tokens, so unseen characters become <unk>: only
  // check that every id is valid, then round-trip text made of characters it knows.
  auto hf = LoadTokenizerFile(AssetsDir() / "models" / "tinystories-656k" / "tokenizer.json");
  CheckRoundTrips(*hf, false);
  std::mt19937 rng(99);
  const std::string alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,!?'\"\n-:;";
  std::uniform_int_distribution<size_t> pick(0, alphabet.size() - 1), len(0, 200);
  for (int i = 0; i < 200; ++i) {
    std::string text;
    for (size_t n = len(rng); n > 0; --n) text.push_back(alphabet[pick(rng)]);
    EXPECT_EQ(hf->Decode(hf->Encode(text, i % 2 == 0)), text);
  }
  // Unknown characters map to <unk> (fused runs), never crash.
  const std::vector<int32_t> unk = hf->Encode("日本", false);
  EXPECT_NE(std::find(unk.begin(), unk.end(), 0), unk.end());
}

TEST(TokenizerGolden, LongInputWithoutPreTokenizerIsFast) {
  KVLAB_REQUIRE_ASSETS();
  // TinyStories-656K has no pre-tokenizer, so the whole text is one BPE word: this must stay O(n log n).
  auto hf = LoadTokenizerFile(AssetsDir() / "models" / "tinystories-656k" / "tokenizer.json");
  const std::string text = Slurp(AssetsDir() / "text" / "tinystories_val.txt").substr(0, 200000);
  const auto start = std::chrono::steady_clock::now();
  const std::vector<int32_t> ids = hf->Encode(text, true);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_GT(ids.size(), text.size() / 8);
  if (std::find(ids.begin(), ids.end(), 0) == ids.end()) {  // 0 is <unk>
    EXPECT_EQ(hf->Decode(ids), text);
  }
  EXPECT_LT(seconds, 20.0);  // generous for Debug/sanitizer builds; quadratic merging would take minutes
}

}  // namespace
}  // namespace kvlab
