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

// What Encode adds and recognises besides the text itself.
struct EncodeOptions {
  // Add what the vocabulary puts around every text: Hugging Face's add_special_tokens (the post-processor's
  // template, e.g. BOS, or nothing for a ByteLevel post-processor), GGUF's add_bos_token/add_eos_token,
  // llama2.c's BOS.
  bool add_special = false;
  // Recognise the text of special (control) tokens, e.g. "<|eot_id|>", as those tokens. Off, such text is
  // tokenized as plain text (Hugging Face split_special_tokens=True, llama.cpp parse_special=false), so text
  // from a file or a user cannot smuggle control tokens in. Non-special added tokens (Qwen's "<think>",
  // Gemma's whitespace runs) are recognised either way, as both libraries do.
  bool parse_special = false;
};

struct DecodeOptions {
  bool skip_special = true;  // special tokens decode to "" (off: to their text, e.g. "<|eot_id|>")
  // Hugging Face's clean_up_tokenization_spaces: drop the space before . , ! ? and inside English
  // contractions (" n't", " 's", ...). Off by default, as a tokenizer's config asks it only for display.
  bool clean_up_spaces = false;
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  virtual std::string_view Kind() const = 0;  // "sentencepiece", "hf-bpe", "gpt2-bpe", "char"
  std::vector<int32_t> Encode(std::string_view text, const EncodeOptions& options) const {
    return EncodeText(text, options);
  }
  // Shorthand for the common case: special-token text stays text.
  std::vector<int32_t> Encode(std::string_view text, bool add_special) const {
    return EncodeText(text, EncodeOptions{add_special, false});
  }
  // Text of one token as it should be printed when streaming, given the previous token
  // (SentencePiece drops the leading space of the first piece after BOS; byte tokens may be partial UTF-8).
  // prev = -1 means "start of text" and counts as following BOS. Special tokens and ids out of range
  // decode to "". Never throws.
  virtual std::string DecodeToken(int32_t prev, int32_t id) const = 0;
  // Whole-sequence decode. The default joins DecodeToken over ids (starting at prev = -1), so
  // Decode(Encode(text, add_special)) == text for text the vocabulary can represent; a tokenizer whose
  // decoders see the whole sequence (Hugging Face's) overrides it to decode as its library does.
  virtual std::string Decode(const std::vector<int32_t>& ids, const DecodeOptions& options) const;
  std::string Decode(const std::vector<int32_t>& ids) const { return Decode(ids, DecodeOptions{}); }
  virtual int32_t vocab_size() const = 0;
  virtual int32_t bos_id() const { return -1; }
  virtual int32_t eos_id() const { return -1; }
  // Whether add_special adds anything (a BOS by default). Callers still choose via EncodeOptions.
  virtual bool add_bos_default() const { return false; }
  // The raw vocabulary string of a token (e.g. "▁the", "<0x0A>", "Ġthe"), for inspection and messages;
  // empty for an id out of range.
  virtual std::string_view Piece(int32_t id) const { return {}; }
  // Whether `id` is a special (control) token: skipped by Decode, parsed from text only on request.
  virtual bool IsSpecial(int32_t id) const { return false; }
  // The config's clean_up_tokenization_spaces (Hugging Face decode's default); false elsewhere.
  virtual bool clean_up_spaces_default() const { return false; }

 protected:
  virtual std::vector<int32_t> EncodeText(std::string_view text, const EncodeOptions& options) const = 0;
};

// Hugging Face's clean_up_tokenization: " ." -> ".", " n't" -> "n't", ... (see DecodeOptions).
std::string CleanUpTokenizationSpaces(std::string text);

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
