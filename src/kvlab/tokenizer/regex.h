// A compiled PCRE2 pattern for pre-tokenizers (GPT-2's \p{L}/\p{N} classes and (?!\S) lookahead need a
// Unicode-aware engine; std::regex has neither).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

struct pcre2_real_code_8;

namespace kvlab {

// [begin, end) byte offsets into the subject.
using MatchSpan = std::pair<size_t, size_t>;

class Regex {
 public:
  // Compiles in UTF + UCP mode (Unicode classes). `literal` matches the pattern text exactly.
  // Throws kvlab::Error naming `source` when the pattern does not compile.
  Regex(std::string_view pattern, bool literal, std::string_view source);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Successive non-overlapping matches, left to right. Malformed UTF-8 in `text` is never matched
  // (it ends up in the gaps between matches), so arbitrary bytes are safe.
  std::vector<MatchSpan> FindAll(std::string_view text) const;

  // The GPT-2 pre-tokenizer pattern (openai/gpt-2 encoder.py, Hugging Face ByteLevel).
  static const char* Gpt2Pattern();

 private:
  pcre2_real_code_8* code_ = nullptr;
};

// Cuts `text` into pieces that cover it entirely: each match and each gap between matches, in order,
// empty pieces dropped. This is how GPT-2 pre-tokenization treats text.
std::vector<std::string_view> SplitKeepAll(std::string_view text, const std::vector<MatchSpan>& matches);

}  // namespace kvlab
