// Hugging Face tokenizer.json with a BPE model (Llama-2-style SentencePiece conversions, GPT-2/RoBERTa
// byte-level BPE, TinyStories): added tokens are cut out first, then each remaining segment is normalized,
// pre-tokenized into words, and each word is merged by rank (see bpe_merges.h).
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

#include "kvlab/tokenizer/bpe_merges.h"
#include "kvlab/tokenizer/hf_pipeline.h"
#include "kvlab/tokenizer/tokenizer.h"

namespace kvlab {

// What tokenizer.json does not say itself: which tokens are BOS/EOS and whether BOS is added
// (tokenizer_config.json, or the post_processor template as a fallback).
struct HfSpecialTokens {
  std::string bos;  // token content, e.g. "<s>"; empty: none
  std::string eos;
  int add_bos = -1;  // -1: unknown (use the post_processor template)
};

class HfTokenizer final : public Tokenizer {
 public:
  // Throws kvlab::Error naming `source` and the JSON path of anything missing or unsupported.
  HfTokenizer(const nlohmann::json& tokenizer_json, const HfSpecialTokens& special,
              const std::string& source);

  std::string_view Kind() const override { return "hf-bpe"; }
  std::vector<int32_t> Encode(std::string_view text, bool add_bos) const override;
  std::string DecodeToken(int32_t prev, int32_t id) const override;
  int32_t vocab_size() const override { return static_cast<int32_t>(id_to_token_.size()); }
  int32_t bos_id() const override { return bos_id_; }
  int32_t eos_id() const override { return eos_id_; }
  bool add_bos_default() const override { return add_bos_ && bos_id_ >= 0; }
  std::string_view Piece(int32_t id) const override;

 private:
  struct AddedToken {
    std::string content;
    int32_t id = -1;
    bool special = false;
    bool normalized = false;
    bool lstrip = false;
    bool rstrip = false;
    bool single_word = false;
  };
  // A piece of input: either text still to tokenize or an added token already recognised.
  struct Segment {
    std::string_view text;
    int32_t token = -1;
  };
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using Vocab = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

  void Parse(const nlohmann::json& tokenizer_json, const HfSpecialTokens& special);
  void ParseModel(const nlohmann::json& model, const std::string& where);
  void ParseAddedTokens(const nlohmann::json& added, const std::string& where);
  void ResolveSpecialTokens(const nlohmann::json& tokenizer_json, const HfSpecialTokens& special);
  int32_t FindToken(std::string_view content) const;
  // Splits `text` around occurrences of the added tokens whose `normalized` flag equals `normalized`.
  std::vector<Segment> SplitAddedTokens(std::string_view text, bool normalized) const;
  void EncodeWord(std::string_view word, std::vector<int32_t>* out) const;

  std::string source_;
  Vocab vocab_;                           // model vocabulary: token -> id
  std::vector<std::string> id_to_token_;  // [vocab] model and added tokens
  std::vector<uint8_t> special_;          // [vocab] decodes to "" (special added tokens)
  BpeMergeTable merges_;
  int32_t unk_id_ = -1;
  bool byte_fallback_ = false;
  bool fuse_unk_ = false;
  bool ignore_merges_ = false;
  std::array<int32_t, 256> byte_tokens_;  // byte -> <0xXX> token, -1 where absent
  std::vector<AddedToken> added_;
  std::vector<HfNormalizer> normalizers_;
  std::vector<HfPreTokenizer> pre_tokenizers_;
  std::vector<HfDecoder> decoders_;
  int32_t bos_id_ = -1;
  int32_t eos_id_ = -1;
  bool add_bos_ = false;
};

// Reads tokenizer.json, plus tokenizer_config.json from the same directory when present (BOS/EOS tokens,
// add_bos_token).
std::unique_ptr<Tokenizer> LoadHfTokenizerJson(const std::filesystem::path& path);

}  // namespace kvlab
