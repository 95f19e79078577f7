#include "kvlab/tokenizer/gguf_vocab.h"

#include <cstdint>
#include <variant>

#include "kvlab/tokenizer/gguf_pre_tokenizers.h"
#include "kvlab/tokenizer/gpt2_bpe.h"
#include "kvlab/tokenizer/sentencepiece_bpe.h"
#include "kvlab/util/error.h"

namespace kvlab {
namespace {

constexpr const char* kTokens = "tokenizer.ggml.tokens";
constexpr const char* kScores = "tokenizer.ggml.scores";
constexpr const char* kTypes = "tokenizer.ggml.token_type";
constexpr const char* kMerges = "tokenizer.ggml.merges";
constexpr const char* kPre = "tokenizer.ggml.pre";

bool FindBool(const GgufFile& gguf, const std::string& key, bool fallback) {
  auto it = gguf.metadata().find(key);
  if (it == gguf.metadata().end()) return fallback;
  if (const bool* b = std::get_if<bool>(&it->second)) return *b;
  return gguf.GetInt(key) != 0;  // tolerate an integer flag; throws for other types
}

int32_t FindId(const GgufFile& gguf, const std::string& key, int32_t fallback) {
  const std::optional<int64_t> v = gguf.FindInt(key);
  if (!v) return fallback;
  if (*v < -1 || *v > INT32_MAX)
    throw Error(gguf.path(), "metadata " + key + " = " + std::to_string(*v) + " is not a token id");
  return static_cast<int32_t>(*v);
}

// Token types, or all "normal" when the file has none; checked against the token count.
std::vector<int64_t> TokenTypes(const GgufFile& gguf, size_t n) {
  if (!gguf.Has(kTypes)) return std::vector<int64_t>(n, 1);
  const std::vector<int64_t>& types = gguf.GetIntArray(kTypes);
  if (types.size() != n) {
    throw Error(gguf.path(), std::string(kTypes) + " has " + std::to_string(types.size()) + " entries for " +
                                 std::to_string(n) + " tokens");
  }
  return types;
}

std::unique_ptr<Tokenizer> LoadLlamaVocab(const GgufFile& gguf) {
  SpmVocab vocab;
  vocab.source = gguf.path();
  vocab.pieces = gguf.GetStringArray(kTokens);
  const size_t n = vocab.pieces.size();
  if (gguf.Has(kScores)) {
    const std::vector<double>& scores = gguf.GetFloatArray(kScores);
    if (scores.size() != n) {
      throw Error(gguf.path(), std::string(kScores) + " has " + std::to_string(scores.size()) +
                                   " entries for " + std::to_string(n) + " tokens");
    }
    vocab.scores.assign(scores.begin(), scores.end());
  } else {
    vocab.scores.assign(n, 0.0f);
  }
  for (int64_t t : TokenTypes(gguf, n)) {
    if (t < 0 || t > 6)
      throw Error(gguf.path(), std::string(kTypes) + " holds unknown type " + std::to_string(t));
    vocab.types.push_back(t == 0 ? SpmTokenType::kNormal : static_cast<SpmTokenType>(t));
  }
  // llama.cpp's defaults for SentencePiece vocabularies.
  vocab.bos_id = FindId(gguf, "tokenizer.ggml.bos_token_id", 1);
  vocab.eos_id = FindId(gguf, "tokenizer.ggml.eos_token_id", 2);
  vocab.unk_id = FindId(gguf, "tokenizer.ggml.unknown_token_id", 0);
  vocab.add_bos = FindBool(gguf, "tokenizer.ggml.add_bos_token", true);
  vocab.add_eos = FindBool(gguf, "tokenizer.ggml.add_eos_token", false);
  vocab.add_space_prefix = FindBool(gguf, "tokenizer.ggml.add_space_prefix", true);
  return std::make_unique<SentencePieceBpe>(std::move(vocab));
}

// tokenizer.ggml.pre names the regex and merge rules; a file without it is GPT-2's (as llama.cpp's default).
const GgufPreTokenizer& PreTokenizer(const GgufFile& gguf) {
  const std::string name = gguf.FindString(kPre).value_or("gpt-2");
  if (const GgufPreTokenizer* pre = FindGgufPreTokenizer(name)) return *pre;
  throw Error(gguf.path(), std::string(kPre) + " \"" + name + "\" is not supported",
              std::string("kvlab reads the byte-level pre-tokenizers ") + GgufPreTokenizerNames());
}

std::unique_ptr<Tokenizer> LoadGpt2Vocab(const GgufFile& gguf) {
  const GgufPreTokenizer& pre = PreTokenizer(gguf);
  Gpt2Vocab vocab;
  vocab.source = gguf.path();
  vocab.tokens = gguf.GetStringArray(kTokens);
  vocab.pattern = pre.pattern;
  vocab.ignore_merges = pre.ignore_merges;
  vocab.nfc = pre.nfc;
  const size_t n = vocab.tokens.size();
  const std::vector<int64_t> types = TokenTypes(gguf, n);
  for (size_t id = 0; id < n; ++id) {
    if (types[id] < 0 || types[id] > 6)
      throw Error(gguf.path(), std::string(kTypes) + " holds unknown type " + std::to_string(types[id]));
    vocab.special.push_back(types[id] == 3 ? 1 : 0);  // 3: control
    // 4: user-defined, cut out of the text like a non-special added token
    if (types[id] == 4) vocab.added.push_back({vocab.tokens[id], static_cast<int32_t>(id), /*special=*/false});
  }
  const std::vector<std::string>& merges = gguf.GetStringArray(kMerges);
  vocab.merges.resize(merges.size());
  for (size_t i = 0; i < merges.size(); ++i) {
    if (!SplitMergeLine(merges[i], &vocab.merges[i])) {
      throw Error(gguf.path(), std::string(kMerges) + "[" + std::to_string(i) + "] \"" + merges[i] +
                                   "\" is not \"left right\"");
    }
  }
  int32_t endoftext = -1;
  for (size_t id = 0; id < n; ++id) {
    if (vocab.tokens[id] == "<|endoftext|>") endoftext = static_cast<int32_t>(id);
  }
  vocab.bos_id = FindId(gguf, "tokenizer.ggml.bos_token_id", endoftext);
  vocab.eos_id = FindId(gguf, "tokenizer.ggml.eos_token_id", endoftext);
  vocab.add_bos = FindBool(gguf, "tokenizer.ggml.add_bos_token", pre.add_bos);
  return std::make_unique<Gpt2Bpe>(std::move(vocab));
}

}  // namespace

std::unique_ptr<Tokenizer> LoadGgufTokenizer(const GgufFile& gguf) {
  if (!gguf.Has("tokenizer.ggml.model")) {
    throw Error(gguf.path(), "has no embedded vocabulary (tokenizer.ggml.model missing)",
                "give the tokenizer file explicitly");
  }
  const std::string model = gguf.GetString("tokenizer.ggml.model");
  if (model == "none" || model == "no_vocab") {  // llama.cpp's two names for a file without one
    throw Error(gguf.path(), "has no embedded vocabulary (tokenizer.ggml.model \"" + model + "\")",
                "give the tokenizer file explicitly");
  }
  if (model == "llama") return LoadLlamaVocab(gguf);
  if (model == "gpt2") return LoadGpt2Vocab(gguf);
  throw Error(gguf.path(), "tokenizer.ggml.model \"" + model + "\" is not supported",
              "kvlab reads \"llama\" (SentencePiece BPE) and \"gpt2\" (byte-level BPE) vocabularies");
}

}  // namespace kvlab
