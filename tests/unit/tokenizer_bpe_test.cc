// Byte-level and ranked BPE on tiny synthetic vocabularies: GPT-2 files, Hugging Face tokenizer.json and
// GGUF-embedded vocabularies, including malformed and mutated files (kvlab::Error, never a crash).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <iterator>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "kvlab/tokenizer/byte_level.h"
#include "kvlab/tokenizer/hf_pipeline.h"
#include "kvlab/tokenizer/hf_tokenizer_json.h"
#include "kvlab/tokenizer/tokenizer.h"
#include "kvlab/util/error.h"
#include "test_assets.h"
#include "tokenizer_test_util.h"

namespace kvlab {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using tokenizer_test::ExpectError;
using tokenizer_test::Pieces;
using tokenizer_test::WriteFile;

// ---------------------------------------------------------------------------------------------------------
// GPT-2 byte-level BPE

// encoder.json: the 256 byte characters, then `extra` tokens; vocab.bpe: `merges`.
fs::path WriteGpt2Files(const std::string& tag, const std::vector<std::string>& extra,
                        const std::vector<std::string>& merges) {
  const fs::path dir = test::TempDir(tag);
  json encoder = json::object();
  for (int b = 0; b < 256; ++b) encoder[ByteLevelChar(static_cast<uint8_t>(b))] = b;
  for (size_t i = 0; i < extra.size(); ++i) encoder[extra[i]] = 256 + static_cast<int>(i);
  WriteFile(dir / "encoder.json", encoder.dump());
  std::string bpe = "#version: 0.2\n";
  for (const std::string& m : merges) bpe += m + "\n";
  WriteFile(dir / "vocab.bpe", bpe);
  return dir;
}

TEST(Gpt2Bpe, MergesWithinRegexPiecesOnly) {
  const fs::path dir =
      WriteGpt2Files("tok-gpt2", {"he", "ll", "hell", "hello", "Ġhello", "Ġh", "'s", "<|endoftext|>"},
                     {"h e", "l l", "he ll", "hell o", "Ġ hello", "Ġ h", "' s"});
  auto t = LoadTokenizerFile(dir);
  EXPECT_EQ(t->Kind(), "gpt2-bpe");
  EXPECT_EQ(t->bos_id(), 263);
  EXPECT_EQ(t->eos_id(), 263);
  EXPECT_FALSE(t->add_bos_default());
  EXPECT_EQ(Pieces(*t, t->Encode("hello hello's", false)),
            (std::vector<std::string>{"hello", "Ġhello", "'s"}));
  // "\s+(?!\S)": of three spaces before a word, two stay alone and one joins the word.
  EXPECT_EQ(Pieces(*t, t->Encode("   hello", false)), (std::vector<std::string>{"Ġ", "Ġ", "Ġhello"}));
  EXPECT_EQ(t->Encode("hi", true), t->Encode("hi", false));  // GPT-2 adds no BOS
  // <|endoftext|> in the text is the special token only when asked.
  EXPECT_EQ(t->Encode("hi<|endoftext|>", EncodeOptions{.parse_special = true}).back(), 263);
  EXPECT_NE(t->Encode("hi<|endoftext|>", false).back(), 263);
  EXPECT_EQ(t->Decode(t->Encode("hi<|endoftext|>", false)), "hi<|endoftext|>");
  EXPECT_EQ(t->Decode(t->Encode("hello  wörld 🦙\n", true)), "hello  wörld 🦙\n");
  EXPECT_EQ(t->DecodeToken(-1, 263), "");  // <|endoftext|> is special
  // Malformed UTF-8 input still round-trips byte for byte.
  const std::string junk = "ab\xFF\xC3 c\x80";
  EXPECT_EQ(t->Decode(t->Encode(junk, false)), junk);
}

TEST(Gpt2Bpe, MalformedFiles) {
  const fs::path unknown = WriteGpt2Files("tok-gpt2-merge", {"he"}, {"h e", "x yz"});
  ExpectError([&] { LoadTokenizerFile(unknown); }, {"encoder.json", "merge 1", "x yz"});
  const fs::path bad_line = WriteGpt2Files("tok-gpt2-line", {"he"}, {"h e", "nospace"});
  ExpectError([&] { LoadTokenizerFile(bad_line / "encoder.json"); }, {"vocab.bpe:3", "nospace"});
  const fs::path no_merges = test::TempDir("tok-gpt2-alone");
  WriteFile(no_merges / "encoder.json", R"({"a": 0, "b": 1})");
  ExpectError([&] { LoadTokenizerFile(no_merges / "encoder.json"); }, {"encoder.json", "vocab.bpe"});
  const fs::path missing_byte = test::TempDir("tok-gpt2-bytes");
  WriteFile(missing_byte / "encoder.json", R"({"a": 0, "b": 1})");
  WriteFile(missing_byte / "vocab.bpe", "a b\n");
  ExpectError([&] { LoadTokenizerFile(missing_byte); }, {"encoder.json", "no token for byte 0"});
  WriteFile(missing_byte / "encoder.json", R"({"a": 0, "b": "one"})");
  ExpectError([&] { LoadTokenizerFile(missing_byte); }, {"encoder.json", "\"b\""});
}

// ---------------------------------------------------------------------------------------------------------
// Hugging Face tokenizer.json

// A tokenizer.json with a BPE model over `vocab` (ids in order) and `merges`; other sections from `extra`.
json HfJson(const std::vector<std::string>& vocab, const std::vector<std::string>& merges,
            json extra = json::object()) {
  json j = {{"version", "1.0"},         {"added_tokens", json::array()}, {"normalizer", nullptr},
            {"pre_tokenizer", nullptr}, {"post_processor", nullptr},     {"decoder", nullptr}};
  json v = json::object();
  for (size_t i = 0; i < vocab.size(); ++i) v[vocab[i]] = i;
  j["model"] = {{"type", "BPE"},          {"vocab", v},       {"merges", merges}, {"unk_token", nullptr},
                {"byte_fallback", false}, {"fuse_unk", false}};
  for (auto& [key, value] : extra.items()) {
    if (key == "model") {
      for (auto& [k, v2] : value.items()) j["model"][k] = v2;
    } else {
      j[key] = value;
    }
  }
  return j;
}

HfTokenizer MakeHf(const json& j, HfSpecialTokens special = {}) {
  return HfTokenizer(j, special, "test.json");
}

// The shape of a Llama-2 conversion and of TinyStories-656K: normalizer Prepend ▁ + Replace ' ' -> ▁,
// no pre-tokenizer, byte fallback, decoder Replace/ByteFallback/Fuse/Strip.
json SpmLikeJson(bool with_bytes) {
  std::vector<std::string> vocab{"<unk>", "<s>", "</s>", "▁", "a", "b", "▁a", "ab", "▁ab", "b▁"};
  if (with_bytes) {
    for (int b = 0; b < 256; ++b) vocab.push_back(fmt::format("<0x{:02X}>", b));
  }
  json extra = {
      {"model", {{"unk_token", "<unk>"}, {"byte_fallback", true}, {"fuse_unk", true}}},
      {"added_tokens",
       json::array({{{"id", 0}, {"content", "<unk>"}, {"special", true}, {"normalized", false}},
                    {{"id", 1}, {"content", "<s>"}, {"special", true}, {"normalized", false}},
                    {{"id", 2}, {"content", "</s>"}, {"special", true}, {"normalized", false}}})},
      {"normalizer",
       {{"type", "Sequence"},
        {"normalizers",
         json::array({{{"type", "Prepend"}, {"prepend", "▁"}},
                      {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "▁"}}})}}},
      {"post_processor",
       {{"type", "TemplateProcessing"},
        {"single", json::array({{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
                                {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}})},
        {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {1}}, {"tokens", {"<s>"}}}}}}}},
      {"decoder",
       {{"type", "Sequence"},
        {"decoders", json::array({{{"type", "Replace"}, {"pattern", {{"String", "▁"}}}, {"content", " "}},
                                  {{"type", "ByteFallback"}},
                                  {{"type", "Fuse"}},
                                  {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}})}}}};
  return HfJson(vocab, {"b ▁", "▁ a", "a b", "▁a b"}, extra);
}

TEST(HfTokenizer, SentencePieceShapedPipeline) {
  HfTokenizer t = MakeHf(SpmLikeJson(/*with_bytes=*/true));
  EXPECT_EQ(t.bos_id(), 1);  // from the post_processor template
  EXPECT_EQ(t.eos_id(), 2);
  EXPECT_TRUE(t.add_bos_default());
  // No pre-tokenizer: "b▁" merges across word boundaries.
  EXPECT_EQ(Pieces(t, t.Encode("ab b a", true)), (std::vector<std::string>{"<s>", "▁a", "b▁", "b▁", "a"}));
  EXPECT_EQ(Pieces(t, t.Encode("aé", false)), (std::vector<std::string>{"▁a", "<0xC3>", "<0xA9>"}));
  EXPECT_EQ(t.Decode(t.Encode("ab b aé", true)), "ab b aé");
  EXPECT_EQ(t.Decode(t.Encode(" a", false)), " a");
  EXPECT_TRUE(t.Encode("", false).empty());  // Prepend leaves an empty string empty
  // Special added tokens in the text are recognised before normalization (normalized: false), when asked.
  const EncodeOptions parse{.parse_special = true};
  EXPECT_EQ(Pieces(t, t.Encode("a</s>b", parse)), (std::vector<std::string>{"▁a", "</s>", "▁", "b"}));
  EXPECT_EQ(t.Decode(t.Encode("a</s>b", parse)), "a b");  // special tokens are skipped
  EXPECT_EQ(t.Decode(t.Encode("a</s>b", parse), DecodeOptions{.skip_special = false}), "a</s> b");
  EXPECT_EQ(t.Decode(t.Encode("a</s>b", false)), "a</s>b");  // not asked: plain text
}

TEST(HfTokenizer, UnknownCharactersWithoutByteTokens) {
  HfTokenizer fused = MakeHf(SpmLikeJson(/*with_bytes=*/false));
  EXPECT_EQ(Pieces(fused, fused.Encode("aéé", false)), (std::vector<std::string>{"▁a", "<unk>"}));
  json j = SpmLikeJson(false);
  j["model"]["fuse_unk"] = false;
  HfTokenizer separate = MakeHf(j);
  EXPECT_EQ(Pieces(separate, separate.Encode("aéé", false)),
            (std::vector<std::string>{"▁a", "<unk>", "<unk>"}));
}

TEST(HfTokenizer, ByteLevelPipeline) {
  // RoBERTa/GPT-2 style: ByteLevel pre-tokenizer and decoder over the byte alphabet.
  std::vector<std::string> vocab;
  for (int b = 0; b < 256; ++b) vocab.push_back(ByteLevelChar(static_cast<uint8_t>(b)));
  for (const char* t : {"Ġh", "Ġhi", "<|endoftext|>"}) vocab.push_back(t);
  json extra = {
      {"pre_tokenizer",
       {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}}},
      {"decoder", {{"type", "ByteLevel"}}},
      {"added_tokens",
       json::array({{{"id", 258}, {"content", "<|endoftext|>"}, {"special", true}, {"normalized", false}}})}};
  HfTokenizer t = MakeHf(HfJson(vocab, {"Ġ h", "Ġh i"}, extra));
  EXPECT_EQ(Pieces(t, t.Encode(" hi hi", false)), (std::vector<std::string>{"Ġhi", "Ġhi"}));
  EXPECT_EQ(Pieces(t, t.Encode("hi", false)), (std::vector<std::string>{"h", "i"}));
  EXPECT_EQ(t.bos_id(), 258);
  EXPECT_FALSE(t.add_bos_default());
  EXPECT_EQ(t.Decode(t.Encode(" hi  ünï 🦙<|endoftext|>x", EncodeOptions{.parse_special = true})),
            " hi  ünï 🦙x");
  EXPECT_EQ(t.Decode(t.Encode(" hi  ünï 🦙<|endoftext|>x", false)), " hi  ünï 🦙<|endoftext|>x");
}

TEST(HfTokenizer, MetaspacePreTokenizerKeepsMergesInsideWords) {
  json extra = {
      {"pre_tokenizer",
       {{"type", "Metaspace"}, {"replacement", "▁"}, {"prepend_scheme", "always"}, {"split", true}}},
      {"decoder",
       {{"type", "Metaspace"}, {"replacement", "▁"}, {"prepend_scheme", "always"}, {"split", true}}}};
  HfTokenizer t =
      MakeHf(HfJson({"▁", "a", "b", "▁a", "ab", "▁ab", "b▁"}, {"▁ a", "a b", "▁a b", "b ▁"}, extra));
  // "b▁" would merge without word splitting; Metaspace puts ▁ at the start of the next word instead.
  EXPECT_EQ(Pieces(t, t.Encode("ab b", false)), (std::vector<std::string>{"▁ab", "▁", "b"}));
  EXPECT_EQ(t.Decode(t.Encode("ab b", false)), "ab b");
}

TEST(HfTokenizer, SplitBehaviorsMatchTokenizers) {
  const Regex dash("-", /*literal=*/true, "test");
  auto split = [&](HfSplitBehavior b, bool invert) {
    std::vector<std::string> out;
    for (std::string_view p : HfSplit("a-b--c", dash, b, invert)) out.emplace_back(p);
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(split(HfSplitBehavior::kRemoved, false), (V{"a", "b", "c"}));
  EXPECT_EQ(split(HfSplitBehavior::kIsolated, false), (V{"a", "-", "b", "-", "-", "c"}));
  EXPECT_EQ(split(HfSplitBehavior::kMergedWithPrevious, false), (V{"a-", "b-", "-", "c"}));
  EXPECT_EQ(split(HfSplitBehavior::kMergedWithNext, false), (V{"a", "-b", "-", "-c"}));
  EXPECT_EQ(split(HfSplitBehavior::kContiguous, false), (V{"a", "-", "b", "--", "c"}));
  EXPECT_EQ(split(HfSplitBehavior::kRemoved, true), (V{"-", "-", "-"}));
}

TEST(HfTokenizer, AddedTokenStripFlags) {
  json extra = {{"added_tokens", json::array({{{"id", 3},
                                               {"content", "<m>"},
                                               {"special", true},
                                               {"normalized", false},
                                               {"lstrip", true},
                                               {"rstrip", true}}})}};
  HfTokenizer t = MakeHf(HfJson({"a", "b", " ", "<m>", "<", "m", ">"}, {}, extra));
  EXPECT_EQ(Pieces(t, t.Encode("a  <m> b", EncodeOptions{.parse_special = true})),
            (std::vector<std::string>{"a", "<m>", "b"}));
  // Not parsing specials, the token is text: its characters and the spaces stay.
  EXPECT_EQ(Pieces(t, t.Encode("a <m>", false)), (std::vector<std::string>{"a", " ", "<", "m", ">"}));
  // A non-special added token is recognised either way.
  extra["added_tokens"][0]["special"] = false;
  HfTokenizer plain = MakeHf(HfJson({"a", "b", " ", "<m>"}, {}, extra));
  EXPECT_EQ(Pieces(plain, plain.Encode("a  <m> b", false)), (std::vector<std::string>{"a", "<m>", "b"}));
}

TEST(HfTokenizer, SpecialTokensFromTokenizerConfig) {
  const fs::path dir = test::TempDir("tok-hf-config");
  WriteFile(dir / "tokenizer.json", SpmLikeJson(true).dump());
  WriteFile(dir / "tokenizer_config.json",
            R"({"bos_token": {"content": "</s>"}, "eos_token": "<unk>", "add_bos_token": false})");
  auto t = LoadTokenizerFile(dir);
  EXPECT_EQ(t->Kind(), "hf-bpe");
  EXPECT_EQ(t->bos_id(), 2);
  EXPECT_EQ(t->eos_id(), 0);
  EXPECT_FALSE(t->add_bos_default());
}

TEST(HfTokenizer, UnsupportedOrMalformedJson) {
  const fs::path dir = test::TempDir("tok-hf-bad");
  auto load = [&](const json& j) {
    WriteFile(dir / "tokenizer.json", j.dump());
    return LoadTokenizerFile(dir / "tokenizer.json");
  };
  json unigram = HfJson({"a"}, {});
  unigram["model"]["type"] = "Unigram";
  ExpectError([&] { load(unigram); }, {"tokenizer.json", "model", "Unigram"});
  ExpectError(
      [&] {
        load(HfJson({"a"}, {}, {{"normalizer", {{"type", "BertNormalizer"}}}}));
      },
      {"tokenizer.json", "normalizer", "BertNormalizer"});
  ExpectError(
      [&] {
        load(HfJson({"a"}, {}, {{"pre_tokenizer", {{"type", "BertPreTokenizer"}}}}));
      },
      {"tokenizer.json", "pre_tokenizer", "BertPreTokenizer"});
  ExpectError(
      [&] {
        load(HfJson({"a"}, {}, {{"decoder", {{"type", "WordPiece"}}}}));
      },
      {"tokenizer.json", "decoder", "WordPiece"});
  ExpectError(
      [&] {
        load(HfJson({"a", "b"}, {"a c"}));
      },
      {"tokenizer.json", "merges[0]", "not in the vocabulary"});
  ExpectError([&] { load(HfJson({"a", "b"}, {"ab"})); }, {"tokenizer.json", "merges[0]"});
  json no_vocab = HfJson({"a"}, {});
  no_vocab["model"].erase("vocab");
  ExpectError([&] { load(no_vocab); }, {"tokenizer.json", "vocab"});
  ExpectError(
      [&] {
        load(HfJson({"a"}, {}, {{"model", {{"unk_token", "<unk>"}}}}));
      },
      {"tokenizer.json", "<unk>"});
  // Merges may also be [left, right] pairs.
  EXPECT_EQ(
      load(HfJson({"a", "b", "ab"}, {}, {{"model", {{"merges", json::array({json::array({"a", "b"})})}}}}))
          ->Encode("ab", false),
      (std::vector<int32_t>{2}));
  WriteFile(dir / "tokenizer.json", R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [)");
  ExpectError([&] { LoadTokenizerFile(dir / "tokenizer.json"); }, {"tokenizer.json", "invalid JSON"});
}

// Replaces one random node of `j` (any depth) by a value of a random type.
void MutateOnce(json* j, std::mt19937& rng) {
  std::vector<json*> nodes;
  std::vector<json*> stack{j};
  while (!stack.empty()) {
    json* n = stack.back();
    stack.pop_back();
    nodes.push_back(n);
    if (n->is_structured()) {
      for (auto& child : *n) stack.push_back(&child);
    }
  }
  const json replacements[] = {nullptr,
                               7,
                               -1,
                               1u << 30,
                               2.5,
                               "x",
                               "",
                               true,
                               json::array(),
                               json::object(),
                               json::array({"a", "b"}),
                               json::object({{"type", "Sequence"}})};
  std::uniform_int_distribution<size_t> pick_node(0, nodes.size() - 1),
      pick_value(0, std::size(replacements) - 1);
  *nodes[pick_node(rng)] = replacements[pick_value(rng)];
}

TEST(HfTokenizer, MutatedJsonGivesErrorsNotCrashes) {
  std::mt19937 rng(3);
  int loaded = 0;
  for (int i = 0; i < 400; ++i) {
    json j = SpmLikeJson(/*with_bytes=*/i % 2 == 0);
    for (int k = 0; k < 1 + i % 3; ++k) MutateOnce(&j, rng);
    try {
      HfTokenizer t = MakeHf(j);
      const std::vector<int32_t> ids = t.Encode("ab b a\xC3\xA9</s>", true);
      for (int32_t id : ids) EXPECT_TRUE(id >= 0 && id < t.vocab_size());
      t.Decode(ids);
      ++loaded;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("test.json"), std::string::npos) << e.what();
    }
  }
  EXPECT_GT(loaded, 0);  // some mutations are harmless; the test must exercise both outcomes
}

// ---------------------------------------------------------------------------------------------------------
// GGUF vocabularies (a minimal GGUF v3 writer: metadata only, no tensors)

class GgufWriter {
 public:
  GgufWriter() {
    out_ = "GGUF";
    Put<uint32_t>(3);
    Put<uint64_t>(0);
    Put<uint64_t>(0);
  }
  void String(const std::string& key, const std::string& v) {
    Key(key, 8);
    Str(v);
  }
  void U32(const std::string& key, uint32_t v) {
    Key(key, 4);
    Put(v);
  }
  void Bool(const std::string& key, bool v) {
    Key(key, 7);
    Put<uint8_t>(v);
  }
  void Strings(const std::string& key, const std::vector<std::string>& v) {
    Key(key, 9);
    Put<uint32_t>(8);
    Put<uint64_t>(v.size());
    for (const auto& s : v) Str(s);
  }
  void Floats(const std::string& key, const std::vector<float>& v) {
    Key(key, 9);
    Put<uint32_t>(6);
    Put<uint64_t>(v.size());
    for (float f : v) Put(f);
  }
  void Ints(const std::string& key, const std::vector<int32_t>& v) {
    Key(key, 9);
    Put<uint32_t>(5);
    Put<uint64_t>(v.size());
    for (int32_t i : v) Put(i);
  }
  std::string Bytes() const {
    std::string s = out_;
    std::memcpy(s.data() + 16, &n_kv_, 8);
    return s;
  }

 private:
  template <typename T>
  void Put(T v) {
    out_.append(reinterpret_cast<const char*>(&v), sizeof(T));
  }
  void Str(const std::string& s) {
    Put<uint64_t>(s.size());
    out_ += s;
  }
  void Key(const std::string& key, uint32_t type) {
    Str(key);
    Put(type);
    ++n_kv_;
  }
  std::string out_;
  uint64_t n_kv_ = 0;
};

TEST(GgufVocab, LlamaAndGpt2VocabulariesAndErrors) {
  const fs::path dir = test::TempDir("tok-gguf");
  {
    GgufWriter w;
    w.String("general.architecture", "llama");
    w.String("tokenizer.ggml.model", "llama");
    w.Strings("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", "▁", "h", "i", "▁h", "▁hi"});
    w.Floats("tokenizer.ggml.scores", {0, 0, 0, -1, -1, -1, -2, -3});
    w.Ints("tokenizer.ggml.token_type", {2, 3, 3, 1, 1, 1, 1, 1});
    w.U32("tokenizer.ggml.bos_token_id", 1);
    w.U32("tokenizer.ggml.eos_token_id", 2);
    w.Bool("tokenizer.ggml.add_bos_token", true);
    WriteFile(dir / "llama.gguf", w.Bytes());
    auto t = LoadTokenizerFile(dir / "llama.gguf");
    EXPECT_EQ(t->Kind(), "sentencepiece");
    EXPECT_EQ(t->Encode("hi hi", true), (std::vector<int32_t>{1, 7, 7}));
    EXPECT_EQ(t->Decode({1, 7, 7}), "hi hi");
    EXPECT_TRUE(t->add_bos_default());
    // Truncated anywhere: an error naming the file, never a crash.
    const std::string bytes = w.Bytes();
    for (size_t cut : {size_t{3}, size_t{20}, bytes.size() / 2, bytes.size() - 1}) {
      WriteFile(dir / "cut.gguf", bytes.substr(0, cut));
      ExpectError([&] { LoadTokenizerFile(dir / "cut.gguf"); }, {"cut.gguf"});
    }
  }
  {
    GgufWriter w;
    w.String("tokenizer.ggml.model", "llama");
    w.Strings("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>"});
    w.Floats("tokenizer.ggml.scores", {0, 0});
    WriteFile(dir / "scores.gguf", w.Bytes());
    ExpectError([&] { LoadTokenizerFile(dir / "scores.gguf"); },
                {"scores.gguf", "tokenizer.ggml.scores", "2"});
  }
  {
    GgufWriter w;
    w.String("tokenizer.ggml.model", "gpt2");
    w.String("tokenizer.ggml.pre", "deepseek-llm");
    WriteFile(dir / "pre.gguf", w.Bytes());
    ExpectError([&] { LoadTokenizerFile(dir / "pre.gguf"); }, {"pre.gguf", "tokenizer.ggml.pre", "deepseek-llm"});
  }
  {
    GgufWriter w;
    w.String("tokenizer.ggml.model", "bert");
    WriteFile(dir / "bert.gguf", w.Bytes());
    ExpectError([&] { LoadTokenizerFile(dir / "bert.gguf"); }, {"bert.gguf", "bert"});
    GgufWriter none;
    none.String("general.architecture", "llama");
    WriteFile(dir / "none.gguf", none.Bytes());
    ExpectError([&] { LoadTokenizerFile(dir / "none.gguf"); }, {"none.gguf", "tokenizer.ggml.model"});
    GgufWriter no_vocab;  // what kvlab convert writes for a directory without tokenizer.json
    no_vocab.String("tokenizer.ggml.model", "none");
    WriteFile(dir / "no_vocab.gguf", no_vocab.Bytes());
    ExpectError([&] { LoadTokenizerFile(dir / "no_vocab.gguf"); }, {"no_vocab.gguf", "no embedded vocabulary"});
  }
  {
    std::vector<std::string> tokens;
    for (int b = 0; b < 256; ++b) tokens.push_back(ByteLevelChar(static_cast<uint8_t>(b)));
    tokens.push_back("Ġh");
    tokens.push_back("<|endoftext|>");
    std::vector<int32_t> types(tokens.size(), 1);
    types.back() = 3;
    GgufWriter w;
    w.String("tokenizer.ggml.model", "gpt2");
    w.String("tokenizer.ggml.pre", "gpt-2");
    w.Strings("tokenizer.ggml.tokens", tokens);
    w.Ints("tokenizer.ggml.token_type", types);
    w.Strings("tokenizer.ggml.merges", {"Ġ h"});
    WriteFile(dir / "gpt2.gguf", w.Bytes());
    auto t = LoadTokenizerFile(dir / "gpt2.gguf");
    EXPECT_EQ(t->Kind(), "gpt2-bpe");
    EXPECT_EQ(t->eos_id(), 257);
    EXPECT_EQ(t->Encode(" hh", false), (std::vector<int32_t>{256, 'h'}));
    EXPECT_EQ(t->Decode({257, 256}), " h");
  }
}

}  // namespace
}  // namespace kvlab
