// Tokenizer: text <-> token ids. One implementation per vocabulary kind (see tokenizer/*.h).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kvlab/io/model_format.h"

namespace kvlab {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  virtual std::string_view Kind() const = 0;  // "sentencepiece", "hf-bpe", "gpt2-bpe", "char"
  // Encodes text. add_bos prepends the BOS id when the vocabulary has one.
  virtual std::vector<int32_t> Encode(std::string_view text, bool add_bos) const = 0;
  // Text of one token as it should be printed when streaming, given the previous token
  // (SentencePiece drops the leading space of the first piece after BOS; byte tokens may be partial UTF-8).
  // prev = -1 means "start of text" and counts as following BOS. Special tokens and ids out of range
  // decode to "". Never throws.
  virtual std::string DecodeToken(int32_t prev, int32_t id) const = 0;
  // Whole-sequence decode (bytes joined, special tokens skipped): DecodeToken over ids, starting at prev =
  // -1, so Decode(Encode(text, add_bos)) == text for text the vocabulary can represent.
  virtual std::string Decode(const std::vector<int32_t>& ids) const;
  virtual int32_t vocab_size() const = 0;
  virtual int32_t bos_id() const { return -1; }
  virtual int32_t eos_id() const { return -1; }
  // Whether the vocabulary asks for BOS by default (GGUF add_bos_token, HF add_bos_token / template,
  // llama2.c: yes; GPT-2 and char vocabularies: no). Callers still choose via Encode's add_bos.
  virtual bool add_bos_default() const { return false; }
  // The raw vocabulary string of a token (e.g. "▁the", "<0x0A>", "Ġthe"), for inspection and messages;
  // empty for an id out of range.
  virtual std::string_view Piece(int32_t id) const { return {}; }
};

// The model a tokenizer is looked for, as the tokenizer sees it (tokenizer/ sits below model/, so the caller
// hands these over from its LoadedModel: {m.path, m.format, m.config.vocab_size}).
struct TokenizerSource {
  std::filesystem::path path;  // what the user pointed at (file or directory)
  ModelFormat format = ModelFormat::kSafetensors;
  int32_t vocab_size = 0;  // the model's embedding rows; a larger tokenizer is refused. 0: not checked
};

// Finds and loads the tokenizer that belongs to a model:
//   HF directory: tokenizer.json, else encoder.json + vocab.bpe (GPT-2), else vocab.json (char list);
//   GGUF: the embedded vocabulary (tokenizer.ggml.model "llama" or "gpt2");
//   llama2.c: tokenizer.bin or tok*.bin next to the checkpoint.
// `override_path` (if non-empty) is used instead: a tokenizer.bin, tokenizer.json, vocab.json, .gguf,
// or a directory holding encoder.json + vocab.bpe. Throws kvlab::Error naming what was tried.
std::unique_ptr<Tokenizer> LoadTokenizer(const TokenizerSource& model,
                                         const std::filesystem::path& override_path = {});
std::unique_ptr<Tokenizer> LoadTokenizerFile(const std::filesystem::path& path);

}  // namespace kvlab
