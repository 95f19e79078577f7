// The vocabulary embedded in a GGUF file (tokenizer.ggml.* metadata, as llama.cpp writes it).
#pragma once

#include <memory>

#include "kvlab/io/gguf.h"
#include "kvlab/tokenizer/tokenizer.h"

namespace kvlab {

// tokenizer.ggml.model "llama" -> SentencePieceBpe (tokens, scores, token_type; add_space_prefix false for
//                                Gemma),
//                      "gpt2"  -> Gpt2Bpe (tokens, token_type, merges) cut by the regex tokenizer.ggml.pre names:
//                                "gpt-2" (or absent), "llama-bpe" (Llama 3: also ignore_merges, as llama.cpp),
//                                "qwen2" (also NFC-normalized first, as Qwen's tokenizer.json and unlike
//                                llama.cpp, so a GGUF encodes NFD text as the checkpoint's tokenizer does).
// User-defined tokens (type 4) are always cut out of the text, control tokens (3) only when special text is
// parsed.
// Throws kvlab::Error naming the file and the key for missing, mistyped or inconsistent metadata, and for
// vocabulary kinds kvlab does not implement.
std::unique_ptr<Tokenizer> LoadGgufTokenizer(const GgufFile& gguf);

}  // namespace kvlab
