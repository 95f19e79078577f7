// A Hugging Face tokenizer.json (+ tokenizer_config.json) as the tokenizer.* metadata of a GGUF file, laid
// out as llama.cpp's convert_hf_to_gguf.py and gguf-py write it, so that LoadGgufTokenizer (gguf_vocab.h)
// and llama.cpp read back the ids tokenizer.json gives:
//   byte-level BPE (Llama 3, Qwen2/2.5/3, GPT-2)  -> tokenizer.ggml.model "gpt2", tokenizer.ggml.pre named
//     from the pre-tokenizer regex ("llama-bpe", "qwen2", "gpt-2"), tokens, token types and merges;
//   byte-fallback BPE over U+2581 (Gemma 3, Llama 2 and TinyStories conversions) -> "llama": tokens, types and
//     scores derived from the merge ranks, so that merging by score replays the merges (see the .cc).
// Added tokens become control tokens (3) when tokenizer.json marks them special and user-defined ones (4)
// otherwise: what Hugging Face does with them, where llama.cpp's converter also makes control tokens of some
// non-special ones that look special ("<|fim_prefix|>", "<unused0>"), which its runtime then no longer
// recognises in plain text.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "kvlab/io/gguf_writer.h"

namespace kvlab {

// What the model's config.json says about the vocabulary.
struct GgufVocabDefaults {
  int32_t vocab_size = 0;  // embedding rows: ids the tokenizer leaves free become "[PAD<id>]"; 0: the tokenizer's
  int32_t bos_id = -1;     // used when tokenizer_config.json names no bos_token (gguf-py's SpecialVocab)
  int32_t eos_id = -1;
};

struct GgufVocabSummary {
  std::string model;  // tokenizer.ggml.model written
  std::string pre;    // tokenizer.ggml.pre written ("" for "llama")
  size_t tokens = 0;
  bool chat_template = false;
};

// Adds the tokenizer.* keys of `hf_dir`'s tokenizer.json to `w`; std::nullopt (and nothing added) when the
// directory has no tokenizer.json. Throws kvlab::Error naming the file and the key for what has no GGUF
// form (another model type, a pre-tokenizer llama.cpp has no name for, ids beyond the model's vocab_size).
std::optional<GgufVocabSummary> WriteHfVocabToGguf(const std::filesystem::path& hf_dir, const GgufVocabDefaults& d,
                                                   GgufWriter& w);

}  // namespace kvlab
