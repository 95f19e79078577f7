#include "kvlab/tokenizer/gguf_pre_tokenizers.h"

#include <iterator>

#include "kvlab/tokenizer/regex.h"

namespace kvlab {
namespace {

// Llama 3 and Qwen2 differ only in how digits group: runs of up to three, or one by one.
constexpr const char* kLlama3Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kQwen2Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

const GgufPreTokenizer kPreTokenizers[] = {
    {"gpt-2", Regex::Gpt2Pattern(), /*ignore_merges=*/false, /*nfc=*/false, /*add_bos=*/false},
    {"llama-bpe", kLlama3Pattern, /*ignore_merges=*/true, /*nfc=*/false, /*add_bos=*/true},
    {"qwen2", kQwen2Pattern, /*ignore_merges=*/false, /*nfc=*/true, /*add_bos=*/false},
};

}  // namespace

const GgufPreTokenizer* FindGgufPreTokenizer(std::string_view name) {
  if (name == "gpt2") name = "gpt-2";  // older kvlab and third-party files
  for (const GgufPreTokenizer& p : kPreTokenizers) {
    if (name == p.name) return &p;
  }
  return nullptr;
}

const GgufPreTokenizer* FindGgufPreTokenizerByPattern(std::string_view pattern) {
  for (const GgufPreTokenizer& p : kPreTokenizers) {
    if (pattern == p.pattern) return &p;
  }
  return nullptr;
}

const char* GgufPreTokenizerNames() { return "gpt-2, llama-bpe, qwen2"; }

}  // namespace kvlab
