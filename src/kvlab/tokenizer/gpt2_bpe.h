// GPT-2 byte-level BPE (openai/gpt-2 encoder.py; llama.cpp's "gpt2" GGUF vocabularies): text is cut by the
// GPT-2 regex, each piece's bytes become byte-level characters, then ranked merges apply within the piece.
// Every byte has a token, so any input encodes and decodes back exactly.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "kvlab/tokenizer/added_tokens.h"
#include "kvlab/tokenizer/bpe_merges.h"
#include "kvlab/tokenizer/regex.h"
#include "kvlab/tokenizer/tokenizer.h"
#include "kvlab/tokenizer/word_cache.h"

namespace kvlab {

struct Gpt2Vocab {
  std::vector<std::string> tokens;  // [vocab] byte-level spelling ("Ġthe"); ids without a token are ""
  std::vector<std::pair<std::string, std::string>> merges;  // in rank order
  std::vector<uint8_t> special;  // [vocab] 1 for control tokens (<|endoftext|>): decode to ""
  // Cut out of the text before BPE: the control tokens (special, parsed on request) and user-defined ones.
  std::vector<AddedToken> added;
  std::string pattern;  // the pre-tokenizer regex; empty: GPT-2's
  bool ignore_merges = false;  // a word that is itself a token is emitted whole (Llama 3)
  bool nfc = false;            // text between added tokens is NFC-normalized first (Qwen2's tokenizer.json)
  int32_t bos_id = -1;
  int32_t eos_id = -1;
  bool add_bos = false;
  std::string source;  // file name for error messages
};

class Gpt2Bpe final : public Tokenizer {
 public:
  // Throws kvlab::Error naming vocab.source if a byte has no token or a merge names an unknown token.
  explicit Gpt2Bpe(Gpt2Vocab vocab);

  std::string_view Kind() const override { return "gpt2-bpe"; }
  std::string DecodeToken(int32_t prev, int32_t id) const override;
  int32_t vocab_size() const override { return static_cast<int32_t>(vocab_.tokens.size()); }
  int32_t bos_id() const override { return vocab_.bos_id; }
  int32_t eos_id() const override { return vocab_.eos_id; }
  bool add_bos_default() const override { return vocab_.add_bos && vocab_.bos_id >= 0; }
  std::string_view Piece(int32_t id) const override;
  bool IsSpecial(int32_t id) const override { return id >= 0 && id < vocab_size() && vocab_.special[id]; }

 protected:
  std::vector<int32_t> EncodeText(std::string_view text, const EncodeOptions& options) const override;

 private:
  void EncodePiece(std::string_view text, std::vector<int32_t>* out) const;

  Gpt2Vocab vocab_;
  Regex pretokenizer_;
  AddedTokenSplitter added_;
  WordCache word_cache_;  // regex piece -> its merged ids
  BpeMergeTable merges_;
  std::array<int32_t, 256> byte_ids_;  // byte -> token of its byte-level character
  std::vector<std::string> decoded_;   // [vocab] raw bytes each token stands for
  std::unordered_map<std::string_view, int32_t> token_to_id_;  // for ignore_merges; views vocab_.tokens
};

// encoder.json (or an HF vocab.json object, token -> id) plus vocab.bpe / merges.txt ("a b" per line,
// an optional "#version" first line). "<|endoftext|>" is BOS, EOS and a special token when present.
std::unique_ptr<Tokenizer> LoadGpt2Tokenizer(const std::filesystem::path& encoder_json,
                                             const std::filesystem::path& merges_file);

}  // namespace kvlab
