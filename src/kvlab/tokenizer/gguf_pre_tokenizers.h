// The byte-level pre-tokenizers a GGUF vocabulary names in tokenizer.ggml.pre (llama.cpp's
// LLAMA_VOCAB_PRE_TYPE_*), with what each implies: the regex that cuts text into words, whether a word that is
// itself a token skips the merges (Llama 3's ignore_merges), and what the Hugging Face tokenizer.json of
// that family does besides (Qwen2's NFC normalizer, which llama.cpp leaves out; see gguf_vocab.h).
// Shared by the GGUF vocabulary reader and writer, so that a name written is a name read back.
#pragma once

#include <string_view>

namespace kvlab {

struct GgufPreTokenizer {
  const char* name;     // tokenizer.ggml.pre: "gpt-2", "llama-bpe", "qwen2"
  const char* pattern;  // the pre-tokenizer regex, spelled as the family's tokenizer.json spells it
  bool ignore_merges;   // a word that is a token is emitted whole (llama.cpp sets it for llama-bpe)
  bool nfc;             // tokenizer.json normalizes to NFC first
  bool add_bos;         // llama.cpp's add_bos default for the type, when the file does not say
};

// The pre-tokenizer named `name` (tokenizer.ggml.pre; "gpt2" is taken for "gpt-2"), or null.
const GgufPreTokenizer* FindGgufPreTokenizer(std::string_view name);
// The pre-tokenizer whose regex is exactly `pattern` (a tokenizer.json Split pattern), or null.
const GgufPreTokenizer* FindGgufPreTokenizerByPattern(std::string_view pattern);
// "gpt-2, llama-bpe, qwen2", for messages.
const char* GgufPreTokenizerNames();

}  // namespace kvlab
