// The vocabulary embedded in a GGUF file (tokenizer.ggml.* metadata, as llama.cpp writes it).
#pragma once

#include <memory>

#include "kvlab/io/gguf.h"
#include "kvlab/tokenizer/tokenizer.h"

namespace kvlab {

// tokenizer.ggml.model "llama" -> SentencePieceBpe (tokens, scores, token_type),
//                      "gpt2"  -> Gpt2Bpe (tokens, merges; tokenizer.ggml.pre must be "gpt-2" or absent).
// Throws kvlab::Error naming the file and the key for missing, mistyped or inconsistent metadata, and for
// vocabulary kinds kvlab does not implement.
std::unique_ptr<Tokenizer> LoadGgufTokenizer(const GgufFile& gguf);

}  // namespace kvlab
