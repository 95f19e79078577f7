// Tokenizers on tiny synthetic vocabularies built here, plus malformed-file handling: helpers, merging,
// SentencePiece BPE, llama2.c files, character vocabularies and the factory. GPT-2, tokenizer.json and GGUF
// vocabularies are in tokenizer_bpe_test.cc; the real vocabularies are checked against references in
// tests/golden/tokenizer_golden_test.cc.
#include "kvlab/tokenizer/tokenizer.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "kvlab/tokenizer/bpe_merges.h"
#include "kvlab/tokenizer/byte_level.h"
#include "kvlab/tokenizer/char_vocab.h"
#include "kvlab/tokenizer/sentencepiece_bpe.h"
#include "kvlab/tokenizer/utf8.h"
#include "kvlab/util/error.h"
#include "test_assets.h"
#include "tokenizer_test_util.h"

namespace kvlab {
namespace {

namespace fs = std::filesystem;
using tokenizer_test::ExpectError;
using tokenizer_test::Pieces;
using tokenizer_test::WriteFile;

// ---------------------------------------------------------------------------------------------------------
// UTF-8 and byte-level helpers

TEST(Utf8, DecodesAndRejectsMalformedSequences) {
  size_t len;
  EXPECT_EQ(DecodeUtf8("é", 0, &len), U'é');
  EXPECT_EQ(len, 2u);
  EXPECT_EQ(DecodeUtf8("🦙", 0, &len), U'🦙');
  EXPECT_EQ(len, 4u);
  EXPECT_EQ(DecodeUtf8("\xC3", 0, &len), 0xFFFDu);  // truncated
  EXPECT_EQ(len, 1u);
  EXPECT_EQ(DecodeUtf8("\xC0\x80", 0, &len), 0xFFFDu);      // overlong
  EXPECT_EQ(DecodeUtf8("\xED\xA0\x80", 0, &len), 0xFFFDu);  // surrogate
  EXPECT_EQ(SanitizeUtf8("a\xFF"
                         "b\xE2\x82"),
            "a\xEF\xBF\xBD"
            "b\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(SanitizeUtf8("ok ✅"), "ok ✅");
  EXPECT_EQ(EncodeUtf8(0x1F999), "🦙");
  EXPECT_EQ(Utf8SeqLen("\xF0\x9F", 0), 2u);  // capped at what remains
}

TEST(ByteLevel, MatchesGpt2Alphabet) {
  EXPECT_EQ(ByteLevelChar(' '), "Ġ");
  EXPECT_EQ(ByteLevelChar('\n'), "Ċ");
  EXPECT_EQ(ByteLevelChar('a'), "a");
  EXPECT_EQ(ByteLevelChar(0xAD), "Ń");  // soft hyphen: the one Latin-1 byte above 0xA0 that is remapped
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  std::string back;
  ASSERT_TRUE(ByteLevelDecode(ByteLevelEncode(all), &back));
  EXPECT_EQ(back, all);
  EXPECT_FALSE(ByteLevelDecode("中", &back));
}

// ---------------------------------------------------------------------------------------------------------
// Rank-based merging against GPT-2's original loop

// openai/gpt-2 encoder.py bpe(): merge every occurrence of the lowest-ranked pair, left to right; repeat.
std::vector<int32_t> NaiveBpe(std::vector<int32_t> word,
                              const std::map<std::pair<int32_t, int32_t>, std::pair<int, int32_t>>& merges) {
  while (word.size() > 1) {
    int best_rank = INT32_MAX;
    std::pair<int32_t, int32_t> best;
    for (size_t i = 0; i + 1 < word.size(); ++i) {
      auto it = merges.find({word[i], word[i + 1]});
      if (it != merges.end() && it->second.first < best_rank) {
        best_rank = it->second.first;
        best = it->first;
      }
    }
    if (best_rank == INT32_MAX) break;
    std::vector<int32_t> next;
    for (size_t i = 0; i < word.size();) {
      if (i + 1 < word.size() && word[i] == best.first && word[i + 1] == best.second) {
        next.push_back(merges.at(best).second);
        i += 2;
      } else {
        next.push_back(word[i++]);
      }
    }
    word = std::move(next);
  }
  return word;
}

TEST(BpeMerges, AgreesWithGpt2LoopOnRandomTables) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 200; ++trial) {
    // A table built the way BPE training builds one: each merge creates a new token, and merges that use
    // a token come after the merge that created it.
    const int alphabet = 2 + trial % 4;
    int32_t next_id = alphabet;
    BpeMergeTable table;
    std::map<std::pair<int32_t, int32_t>, std::pair<int, int32_t>> naive;
    for (int rank = 0; rank < 12; ++rank) {
      std::uniform_int_distribution<int32_t> pick(0, next_id - 1);
      const std::pair<int32_t, int32_t> pair{pick(rng), pick(rng)};
      if (naive.count(pair)) continue;
      naive[pair] = {rank, next_id};
      table.Add(pair.first, pair.second, next_id, rank);
      ++next_id;
    }
    std::uniform_int_distribution<int32_t> symbol(0, alphabet - 1);
    std::uniform_int_distribution<int> length(0, 30);
    for (int w = 0; w < 20; ++w) {
      std::vector<int32_t> word(length(rng));
      for (int32_t& s : word) s = symbol(rng);
      std::vector<int32_t> fast = word;
      table.Apply(&fast);
      EXPECT_EQ(fast, NaiveBpe(word, naive)) << "trial " << trial;
    }
  }
}

TEST(BpeMerges, LowerRankWinsThenLeftmost) {
  BpeMergeTable table;
  table.Add(0, 0, 10, 0);   // a a -> aa
  table.Add(10, 0, 11, 1);  // aa a -> aaa
  std::vector<int32_t> w{0, 0, 0};
  table.Apply(&w);
  EXPECT_EQ(w, (std::vector<int32_t>{11}));
  w = {0, 0, 0, 0};
  table.Apply(&w);
  EXPECT_EQ(w, (std::vector<int32_t>{10, 10}));  // leftmost first, then "aa aa" has no merge
}

// ---------------------------------------------------------------------------------------------------------
// SentencePiece BPE

// <unk> <s> </s>, the 256 byte tokens, then `extra` pieces with their scores.
SpmVocab MakeSpmVocab(const std::vector<std::pair<std::string, float>>& extra) {
  SpmVocab v;
  v.source = "synthetic";
  auto add = [&](const std::string& piece, float score, SpmTokenType type) {
    v.pieces.push_back(piece);
    v.scores.push_back(score);
    v.types.push_back(type);
  };
  add("<unk>", 0, SpmTokenType::kUnknown);
  add("<s>", 0, SpmTokenType::kControl);
  add("</s>", 0, SpmTokenType::kControl);
  for (int b = 0; b < 256; ++b) add(fmt::format("<0x{:02X}>", b), 0, SpmTokenType::kByte);
  for (const auto& [piece, score] : extra) add(piece, score, SpmTokenType::kNormal);
  v.unk_id = 0;
  v.bos_id = 1;
  v.eos_id = 2;
  return v;
}

constexpr int32_t kFirstPiece = 259;

TEST(SentencePieceBpe, MergesTheBestScoringPairFirst) {
  // "ab" scores higher than "▁a": ▁ a b -> ▁ ab.
  SentencePieceBpe t1(MakeSpmVocab({{"▁", -1}, {"a", -1}, {"b", -1}, {"ab", -2}, {"▁a", -3}}));
  EXPECT_EQ(Pieces(t1, t1.Encode("ab", false)), (std::vector<std::string>{"▁", "ab"}));
  // "▁a" scores higher: ▁ a b -> ▁a b; and "▁ab" then merges if it exists.
  SentencePieceBpe t2(MakeSpmVocab({{"▁", -1}, {"a", -1}, {"b", -1}, {"ab", -3}, {"▁a", -2}}));
  EXPECT_EQ(Pieces(t2, t2.Encode("ab", false)), (std::vector<std::string>{"▁a", "b"}));
  SentencePieceBpe t3(MakeSpmVocab({{"▁", -1}, {"a", -1}, {"b", -1}, {"ab", -3}, {"▁a", -2}, {"▁ab", -9}}));
  EXPECT_EQ(Pieces(t3, t3.Encode("ab", false)), (std::vector<std::string>{"▁ab"}));
  // Equal scores: the leftmost pair merges first.
  SentencePieceBpe t4(MakeSpmVocab({{"▁", -1}, {"a", -1}, {"aa", -2}}));
  EXPECT_EQ(Pieces(t4, t4.Encode("aaa", false)), (std::vector<std::string>{"▁", "aa", "a"}));
}

TEST(SentencePieceBpe, SpacePrefixBosAndByteFallback) {
  SentencePieceBpe t(MakeSpmVocab({{"▁", -1}, {"h", -1}, {"i", -1}, {"▁h", -2}, {"▁hi", -3}}));
  EXPECT_TRUE(t.Encode("", false).empty());
  EXPECT_EQ(t.Encode("", true), (std::vector<int32_t>{1}));
  EXPECT_EQ(Pieces(t, t.Encode("hi hi", true)), (std::vector<std::string>{"<s>", "▁hi", "▁hi"}));
  // "é" is not a piece: its two UTF-8 bytes become <0xC3> <0xA9>.
  EXPECT_EQ(Pieces(t, t.Encode("hé", false)), (std::vector<std::string>{"▁h", "<0xC3>", "<0xA9>"}));
  // Decoding restores spaces, drops the prefix space after BOS (or at the start), joins raw bytes.
  EXPECT_EQ(t.Decode(t.Encode("hi hé", true)), "hi hé");
  EXPECT_EQ(t.Decode(t.Encode(" hi", false)), " hi");
  EXPECT_EQ(t.DecodeToken(1, kFirstPiece + 4), "hi");   // ▁hi after BOS
  EXPECT_EQ(t.DecodeToken(-1, kFirstPiece + 4), "hi");  // at the start of the text
  EXPECT_EQ(t.DecodeToken(kFirstPiece, kFirstPiece + 4), " hi");
  EXPECT_EQ(t.DecodeToken(5, 3 + 0xC3), "\xC3");  // a partial UTF-8 character, as is
  EXPECT_EQ(t.DecodeToken(5, 1), "");             // control tokens print nothing
  EXPECT_EQ(t.DecodeToken(5, -3), "");
  EXPECT_EQ(t.DecodeToken(5, t.vocab_size()), "");
}

TEST(SentencePieceBpe, RejectsInconsistentVocabulary) {
  SpmVocab v = MakeSpmVocab({{"a", 0}});
  v.scores.pop_back();
  ExpectError([&] { SentencePieceBpe t(v); }, {"synthetic", "scores"});
  SpmVocab w = MakeSpmVocab({{"a", 0}});
  w.bos_id = 9999;
  ExpectError([&] { SentencePieceBpe t(w); }, {"synthetic", "9999"});
}

// llama2.c's encode(): recompute the best pair over the whole sequence every round (ties: leftmost).
std::vector<std::string> Llama2cEncode(const std::vector<std::pair<std::string, float>>& vocab,
                                       std::string text) {
  std::map<std::string, float> score(vocab.begin(), vocab.end());
  std::vector<std::string> tokens{"▁"};
  for (char c : text) tokens.push_back(c == ' ' ? "▁" : std::string(1, c));
  for (;;) {
    float best = -1e30f;
    int best_i = -1;
    for (size_t i = 0; i + 1 < tokens.size(); ++i) {
      auto it = score.find(tokens[i] + tokens[i + 1]);
      if (it != score.end() && it->second > best) {
        best = it->second;
        best_i = static_cast<int>(i);
      }
    }
    if (best_i < 0) return tokens;
    tokens[best_i] += tokens[best_i + 1];
    tokens.erase(tokens.begin() + best_i + 1);
  }
}

TEST(SentencePieceBpe, AgreesWithLlama2cLoopOnRandomVocabularies) {
  std::mt19937 rng(11);
  const std::string letters = "ab ";
  for (int trial = 0; trial < 100; ++trial) {
    std::vector<std::pair<std::string, float>> vocab{{"▁", 0}, {"a", 0}, {"b", 0}};
    std::uniform_int_distribution<int> len(2, 4), pick(0, 2), score(-20, 0);
    for (int i = 0; i < 15; ++i) {
      std::string piece;
      for (int k = len(rng); k > 0; --k) {
        const char c = letters[pick(rng)];
        piece += c == ' ' ? "▁" : std::string(1, c);
      }
      bool seen = false;
      for (const auto& v : vocab) seen = seen || v.first == piece;
      if (!seen) vocab.push_back({piece, static_cast<float>(score(rng))});
    }
    SentencePieceBpe t(MakeSpmVocab(vocab));
    std::uniform_int_distribution<int> text_len(1, 25);
    for (int w = 0; w < 10; ++w) {
      std::string text;
      for (int k = text_len(rng); k > 0; --k) text.push_back(letters[pick(rng)]);
      EXPECT_EQ(Pieces(t, t.Encode(text, false)), Llama2cEncode(vocab, text)) << "text \"" << text << "\"";
      EXPECT_EQ(t.Decode(t.Encode(text, false)), text);
    }
  }
}

// llama2.c tokenizer.bin bytes: max_token_length, then (score, length, bytes) per token.
std::string Llama2cBin(const std::vector<std::pair<std::string, float>>& tokens) {
  std::string out(4, '\0');
  const int32_t max_len = 16;
  std::memcpy(out.data(), &max_len, 4);
  for (const auto& [piece, score] : tokens) {
    char buf[8];
    const auto len = static_cast<int32_t>(piece.size());
    std::memcpy(buf, &score, 4);
    std::memcpy(buf + 4, &len, 4);
    out.append(buf, 8).append(piece);
  }
  return out;
}

TEST(Llama2cTokenizer, ReadsSpacesAsPlainSpaces) {
  const fs::path dir = test::TempDir("tok-l2c");
  std::vector<std::pair<std::string, float>> tokens{{"<unk>", 0}, {"\n<s>\n", 0}, {"\n</s>\n", 0}};
  for (int b = 0; b < 256; ++b) tokens.push_back({fmt::format("<0x{:02X}>", b), 0});
  for (const char* p : {" ", "h", "i", " h", " hi"})
    tokens.push_back({p, -static_cast<float>(tokens.size())});
  WriteFile(dir / "tokenizer.bin", Llama2cBin(tokens));
  auto t = LoadTokenizerFile(dir / "tokenizer.bin");
  EXPECT_EQ(t->Kind(), "sentencepiece");
  EXPECT_EQ(t->vocab_size(), 264);
  EXPECT_EQ(t->Encode("hi hi", true), (std::vector<int32_t>{1, 263, 263}));
  EXPECT_EQ(t->Decode({1, 263, 263, 3 + '!'}), "hi hi!");
  EXPECT_EQ(t->DecodeToken(1, 263), "hi");
  EXPECT_EQ(t->DecodeToken(263, 263), " hi");
}

TEST(Llama2cTokenizer, MalformedFilesNameTheFileAndTheProblem) {
  const fs::path dir = test::TempDir("tok-l2c-bad");
  const std::string good = Llama2cBin({{"<unk>", 0}, {"<s>", 0}, {"</s>", 0}, {"hello", -1}});
  WriteFile(dir / "short.bin", good.substr(0, 2));
  ExpectError([&] { LoadTokenizerFile(dir / "short.bin"); }, {"short.bin", "too short"});
  WriteFile(dir / "cut_header.bin", good.substr(0, good.size() - 10));  // inside the last token's header
  ExpectError([&] { LoadTokenizerFile(dir / "cut_header.bin"); }, {"cut_header.bin", "truncated", "token 3"});
  WriteFile(dir / "cut_piece.bin", good.substr(0, good.size() - 2));  // inside the last piece
  ExpectError([&] { LoadTokenizerFile(dir / "cut_piece.bin"); }, {"cut_piece.bin", "token 3", "length 5"});
  std::string negative = good;
  const int32_t minus = -7;
  std::memcpy(negative.data() + 4 + 4, &minus, 4);
  WriteFile(dir / "negative.bin", negative);
  ExpectError([&] { LoadTokenizerFile(dir / "negative.bin"); }, {"negative.bin", "length -7"});
  WriteFile(dir / "two.bin", Llama2cBin({{"<unk>", 0}, {"<s>", 0}}));
  ExpectError([&] { LoadTokenizerFile(dir / "two.bin"); }, {"two.bin", "2 tokens"});
  WriteFile(dir / "text.bin", std::string(64, 'x'));
  ExpectError([&] { LoadTokenizerFile(dir / "text.bin"); }, {"text.bin", "max_token_length"});
}

TEST(Llama2cTokenizer, TruncatedOrCorruptedFilesNeverCrash) {
  const fs::path dir = test::TempDir("tok-l2c-fuzz");
  std::vector<std::pair<std::string, float>> tokens{{"<unk>", 0}, {"<s>", 0}, {"</s>", 0}};
  for (int b = 0; b < 256; ++b) tokens.push_back({fmt::format("<0x{:02X}>", b), 0});
  for (const char* p : {" ", "a", "b", " a", "ab", " ab"})
    tokens.push_back({p, -static_cast<float>(tokens.size())});
  const std::string good = Llama2cBin(tokens);
  std::mt19937 rng(5);
  std::uniform_int_distribution<size_t> where(0, good.size() - 1);
  std::uniform_int_distribution<int> byte(0, 255);
  for (int i = 0; i < 300; ++i) {
    std::string bytes = good;
    if (i % 3 == 0) {
      bytes.resize(where(rng));
    } else {
      for (int k = 0; k < 1 + i % 4; ++k) bytes[where(rng)] = static_cast<char>(byte(rng));
    }
    WriteFile(dir / "tokenizer.bin", bytes);
    try {
      auto t = LoadTokenizerFile(dir / "tokenizer.bin");
      const std::vector<int32_t> ids = t->Encode("ab a\xC3\xA9 b", true);
      for (int32_t id : ids) EXPECT_TRUE(id >= 0 && id < t->vocab_size());
      t->Decode(ids);
    } catch (const Error&) {
      // a clean, one-line error is the other acceptable outcome
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Character vocabulary

TEST(CharVocab, EncodesKnownCharactersAndNamesUnknownOnes) {
  CharVocab t({"\n", " ", "a", "b", "é"}, "vocab.json");
  EXPECT_EQ(t.Encode("ab é\n", true), (std::vector<int32_t>{2, 3, 1, 4, 0}));
  EXPECT_EQ(t.Decode({2, 3, 1, 4, 0}), "ab é\n");
  EXPECT_EQ(t.bos_id(), -1);
  ExpectError([&] { t.Encode("abc", false); }, {"vocab.json", "'c'", "U+0063", "byte 2"});
  ExpectError([&] { t.Encode("a\t", false); }, {"vocab.json", "U+0009"});
}

TEST(CharVocab, MalformedVocabularies) {
  ExpectError([] { CharVocab({"a", "bc"}, "v.json"); }, {"v.json", "entry 1", "bc"});
  ExpectError([] { CharVocab({"a", "a"}, "v.json"); }, {"v.json", "twice"});
  ExpectError([] { CharVocab({}, "v.json"); }, {"v.json", "empty"});
  const fs::path dir = test::TempDir("tok-char");
  WriteFile(dir / "vocab.json", R"(["a", 3])");
  ExpectError([&] { LoadTokenizerFile(dir / "vocab.json"); }, {"vocab.json", "entry 1"});
  WriteFile(dir / "vocab.json", R"(["a", "b")");
  ExpectError([&] { LoadTokenizerFile(dir / "vocab.json"); }, {"vocab.json", "invalid JSON"});
  WriteFile(dir / "vocab.json", R"(["a", "b"])");
  EXPECT_EQ(LoadTokenizerFile(dir)->Kind(), "char");
}

// ---------------------------------------------------------------------------------------------------------
// Factory

TEST(LoadTokenizerFile, ReportsWhatItCouldNotFind) {
  const fs::path dir = test::TempDir("tok-factory");
  ExpectError([&] { LoadTokenizerFile(dir / "missing.bin"); }, {"missing.bin", "no such file"});
  ExpectError([&] { LoadTokenizerFile(dir); }, {"no tokenizer found", "tokenizer.json", "tok*.bin"});
  WriteFile(dir / "odd.json", R"({"hello": "world"})");
  ExpectError([&] { LoadTokenizerFile(dir / "odd.json"); }, {"odd.json", "not a tokenizer"});
  WriteFile(dir / "junk.gguf", "GGUF\x03");
  ExpectError([&] { LoadTokenizerFile(dir / "junk.gguf"); }, {"junk.gguf"});
}

TEST(LoadTokenizer, LooksWhereEachFormatKeepsItsVocabulary) {
  const fs::path dir = test::TempDir("tok-find");
  auto vocab_of_size = [](int n) {
    std::vector<std::pair<std::string, float>> tokens{{"<unk>", 0}, {"<s>", 0}, {"</s>", 0}};
    while (static_cast<int>(tokens.size()) < n)
      tokens.push_back({std::string(1, 'a' + tokens.size() % 26), 0});
    return Llama2cBin(tokens);
  };
  WriteFile(dir / "tok10.bin", vocab_of_size(10));
  WriteFile(dir / "tok20.bin", vocab_of_size(20));
  TokenizerSource model;
  model.format = ModelFormat::kLlama2c;
  model.path = dir / "model.bin";
  model.vocab_size = 20;
  EXPECT_EQ(LoadTokenizer(model)->vocab_size(), 20);  // tok<N>.bin matching the model wins
  model.vocab_size = 32;
  EXPECT_EQ(LoadTokenizer(model)->vocab_size(), 10);  // else the first by name
  WriteFile(dir / "tokenizer.bin", vocab_of_size(5));
  EXPECT_EQ(LoadTokenizer(model)->vocab_size(), 5);  // tokenizer.bin first
  // A Hugging Face model directory does not pick up llama2.c files, and says where it looked.
  model.format = ModelFormat::kSafetensors;
  model.path = dir;
  ExpectError([&] { LoadTokenizer(model); }, {dir.string(), "tokenizer.json", "vocab.json"});
  // An explicit file is used as given, but must fit the model's vocabulary.
  model.vocab_size = 15;
  EXPECT_EQ(LoadTokenizer(model, dir / "tok10.bin")->vocab_size(), 10);
  ExpectError([&] { LoadTokenizer(model, dir / "tok20.bin"); }, {"tok20.bin", "20 tokens", "15"});
}

TEST(Tokenizer, DefaultDecodeSkipsSpecialTokensAndBadIds) {
  CharVocab t({"a", "b"}, "v");
  EXPECT_EQ(t.Decode({0, 1, 7, -1, 0}), "aba");
  EXPECT_EQ(t.Decode({}), "");
}

}  // namespace
}  // namespace kvlab
