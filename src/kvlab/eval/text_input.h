// The inputs of an evaluation: a text (eval/text_source.h: a path, a name under $KVLAB_ASSETS/text, or a
// WikiText article such as "wikitext-2:3") tokenized the way every evaluation does it, or a file of token
// ids. Shared by the CLI's subcommands and the Python package, so
// both evaluate exactly the same tokens for the same arguments.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "kvlab/eval/text_source.h"
#include "kvlab/tokenizer/tokenizer.h"

namespace kvlab {

// Token ids of a text, BOS prepended when the vocabulary asks for it by default
// (Tokenizer::add_bos_default); special-token text is parsed only if `parse_special`. max_tokens > 0: only
// that many are needed (a long text is then encoded from a prefix of whole paragraphs that is sure to hold
// them). Throws on an unreadable or empty text.
std::vector<int32_t> TokenizeText(const Tokenizer& tokenizer, const TextSource& source, size_t max_tokens,
                                  const std::string& flag, bool parse_special);

// Token ids from a file of integers (a JSON array, or ids separated by whitespace or commas).
std::vector<int32_t> ReadIdsFile(const std::filesystem::path& path, const std::string& flag);

}  // namespace kvlab
