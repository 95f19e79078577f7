// Hugging Face tokenizer.json with a BPE model (Llama 3, Qwen2/3 and GPT-2 byte-level BPE; Gemma and
// Llama-2-style SentencePiece conversions with byte fallback; TinyStories), encoded as tokenizers does:
// added tokens are cut out first (see added_tokens.h), then each remaining segment is normalized,
// pre-tokenized into words, and each word is merged by rank (see bpe_merges.h); add_special wraps the result
// in the post-processor's single-sequence template.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "kvlab/tokenizer/added_tokens.h"
#include "kvlab/tokenizer/bpe_merges.h"
#include "kvlab/tokenizer/hf_pipeline.h"
#include "kvlab/tokenizer/tokenizer.h"
#include "kvlab/tokenizer/word_cache.h"

namespace kvlab {

// What tokenizer.json does not say itself (tokenizer_config.json): which tokens are BOS/EOS, and whether
// add_special puts BOS/EOS around a text (transformers' Llama and Gemma tokenizers rebuild the
// post-processor from add_bos_token/add_eos_token when the config gives them).
struct HfSpecialTokens {
  std::string bos;  // token content, e.g. "<s>"; empty: none
  std::string eos;
  int add_bos = -1;  // -1: not given (the post-processor decides)
  int add_eos = -1;
  bool clean_up_spaces = false;  // clean_up_tokenization_spaces
};

class HfTokenizer final : public Tokenizer {
 public:
  // Throws kvlab::Error naming `source` and the JSON path of anything missing or unsupported.
  HfTokenizer(const nlohmann::json& tokenizer_json, const HfSpecialTokens& special,
              const std::string& source);

  std::string_view Kind() const override { return "hf-bpe"; }
  std::string DecodeToken(int32_t prev, int32_t id) const override;
  using Tokenizer::Decode;
  // As tokenizers' decode: the tokens' strings through the decoder chain as one sequence.
  std::string Decode(const std::vector<int32_t>& ids, const DecodeOptions& options) const override;
  int32_t vocab_size() const override { return static_cast<int32_t>(id_to_token_.size()); }
  int32_t bos_id() const override { return bos_id_; }
  int32_t eos_id() const override { return eos_id_; }
  bool add_bos_default() const override { return !prefix_.empty() || !suffix_.empty(); }
  std::string_view Piece(int32_t id) const override;
  bool IsSpecial(int32_t id) const override { return id >= 0 && id < vocab_size() && special_[id]; }
  bool clean_up_spaces_default() const override { return clean_up_spaces_; }

 protected:
  std::vector<int32_t> EncodeText(std::string_view text, const EncodeOptions& options) const override;

 private:
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using Vocab = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

  void Parse(const nlohmann::json& tokenizer_json, const HfSpecialTokens& special);
  void ParseModel(const nlohmann::json& model, const std::string& where);
  std::vector<AddedToken> ParseAddedTokens(const nlohmann::json& added, const std::string& where);
  // The single-sequence template of the post-processor: ids before and after the text.
  void ParsePostProcessor(const nlohmann::json& post, const std::string& where);
  void ResolveSpecialTokens(const HfSpecialTokens& special);
  int32_t FindToken(std::string_view content) const;
  void EncodeWord(std::string_view word, std::vector<int32_t>* out) const;

  std::string source_;
  Vocab vocab_;                           // model vocabulary: token -> id
  std::vector<std::string> id_to_token_;  // [vocab] model and added tokens
  std::vector<uint8_t> special_;          // [vocab] 1 for special added tokens
  BpeMergeTable merges_;
  WordCache word_cache_;
  int32_t unk_id_ = -1;
  bool byte_fallback_ = false;
  bool fuse_unk_ = false;
  bool ignore_merges_ = false;
  std::array<int32_t, 256> byte_tokens_;  // byte -> <0xXX> token, -1 where absent
  AddedTokenSplitter added_;
  std::vector<HfNormalizer> normalizers_;
  std::vector<HfPreTokenizer> pre_tokenizers_;
  std::vector<HfDecoder> decoders_;
  std::vector<int32_t> prefix_;  // what add_special puts before the text (e.g. [BOS])
  std::vector<int32_t> suffix_;  // ... and after it
  int32_t bos_id_ = -1;
  int32_t eos_id_ = -1;
  bool clean_up_spaces_ = false;
};

// Reads tokenizer.json, plus tokenizer_config.json from the same directory when present (BOS/EOS tokens,
// add_bos_token/add_eos_token, clean_up_tokenization_spaces).
std::unique_ptr<Tokenizer> LoadHfTokenizerJson(const std::filesystem::path& path);

}  // namespace kvlab
