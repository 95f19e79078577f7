// SentencePiece-style BPE with scores (Llama 1/2, llama2.c, TinyLlamas): merges are not listed, instead the
// adjacent pair whose concatenation is the best-scoring vocabulary piece merges first. Characters
// without a piece fall back to byte tokens <0xXX>.
//
// Encoding follows llama.cpp's SPM tokenizer (llm_tokenizer_spm), which also matches llama2.c's encode():
// prefix a space, turn spaces into the vocabulary's space marker, merge by score, byte fallback.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "kvlab/tokenizer/added_tokens.h"
#include "kvlab/tokenizer/tokenizer.h"

namespace kvlab {

// GGUF tokenizer.ggml.token_type values (SentencePiece's piece types).
enum class SpmTokenType : uint8_t {
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

struct SpmVocab {
  std::vector<std::string> pieces;  // [vocab]
  std::vector<float> scores;        // [vocab]  higher merges first
  std::vector<SpmTokenType> types;  // [vocab]
  int32_t bos_id = -1;
  int32_t eos_id = -1;
  int32_t unk_id = -1;
  bool add_bos = true;
  bool add_eos = false;
  bool add_space_prefix = true;
  // How a space is spelled inside pieces: "▁" (U+2581) in SentencePiece models and GGUF, " " in llama2.c's
  // tokenizer.bin (its exporter replaced the marker).
  std::string space = "\u2581";
  std::string source;  // file name for error messages
};

class SentencePieceBpe final : public Tokenizer {
 public:
  // Throws kvlab::Error naming vocab.source if the arrays disagree in length or an id is out of range.
  explicit SentencePieceBpe(SpmVocab vocab);
  SentencePieceBpe(const SentencePieceBpe&) = delete;  // piece_to_id_ points into vocab_.pieces
  SentencePieceBpe& operator=(const SentencePieceBpe&) = delete;

  std::string_view Kind() const override { return "sentencepiece"; }
  std::string DecodeToken(int32_t prev, int32_t id) const override;
  int32_t vocab_size() const override { return static_cast<int32_t>(vocab_.pieces.size()); }
  int32_t bos_id() const override { return vocab_.bos_id; }
  int32_t eos_id() const override { return vocab_.eos_id; }
  bool add_bos_default() const override { return vocab_.add_bos && vocab_.bos_id >= 0; }
  std::string_view Piece(int32_t id) const override;
  // Control and unknown tokens: skipped when decoding, parsed from text only on request (as llama.cpp).
  bool IsSpecial(int32_t id) const override;

 protected:
  std::vector<int32_t> EncodeText(std::string_view text, const EncodeOptions& options) const override;

 private:
  // Tokenizes one already escaped fragment (space prefix added, spaces replaced by the marker).
  void EncodeEscaped(std::string_view text, std::vector<int32_t>* out) const;
  int32_t Lookup(std::string_view piece) const;
  void AppendBytes(std::string_view text, std::vector<int32_t>* out) const;

  SpmVocab vocab_;
  AddedTokenSplitter added_;  // control and unknown tokens (special) and user-defined ones
  std::unordered_map<std::string_view, int32_t> piece_to_id_;
  std::array<int32_t, 256> byte_ids_;  // byte -> its <0xXX> token, or the unknown token
  std::vector<std::string> decoded_;   // [vocab] what DecodeToken prints (marker -> ' ', <0xXX> -> byte)
};

// Reads llama2.c's tokenizer.bin: int32 max_token_length, then per token float32 score, int32 length and
// the piece bytes, until the end of the file. Ids 0/1/2 are <unk>/<s>/</s> by llama2.c convention.
std::unique_ptr<Tokenizer> LoadLlama2cTokenizer(const std::filesystem::path& path);

}  // namespace kvlab
