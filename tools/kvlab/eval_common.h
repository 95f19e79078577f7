// Shared pieces of the evaluation subcommands (ppl, fidelity, gen-compare): resolving and tokenizing the
// text, the provenance fields of a result row, and writing JSON output atomically.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "kvlab/tokenizer/tokenizer.h"

namespace kvlab::cli {

// A path, or a file name under $KVLAB_ASSETS/text (e.g. "tinystories_val.txt"). Throws kvlab::Error naming
// `flag` when neither exists.
std::filesystem::path ResolveTextPath(const std::string& name_or_path, const std::string& flag);

// Token ids of a text file, BOS prepended when the vocabulary asks for it by default
// (Tokenizer::add_bos_default); special-token text is parsed only if `parse_special`. max_tokens > 0: only
// that many are needed (a long text is then encoded from a prefix of whole paragraphs that is sure to hold
// them). Throws on an unreadable or empty text.
std::vector<int32_t> TokenizeTextFile(const Tokenizer& tokenizer, const std::filesystem::path& path,
                                      size_t max_tokens, const std::string& flag, bool parse_special);

// Token ids from a file of integers (a JSON array, or ids separated by whitespace or commas).
std::vector<int32_t> ReadIdsFile(const std::filesystem::path& path, const std::string& flag);

// The provenance of one result row: RunInfo() + model, text, tokens, kv spec and the seed the spec
// carries (0 when it has none: the evaluation itself draws no random numbers).
nlohmann::json ResultRow(const std::string& model, const std::string& text, int64_t tokens,
                         const std::string& kv_spec);

// `--json [FILE]`: "-" or no value prints to stdout; a path is written through a temporary file and renamed,
// so a failed run never leaves half a file.
struct JsonOutput {
  std::string path;
  CLI::Option* option = nullptr;
  bool Requested() const { return option != nullptr && option->count() > 0; }
  void Add(CLI::App* cmd);
  void Write(const nlohmann::json& j) const;
};

}  // namespace kvlab::cli
