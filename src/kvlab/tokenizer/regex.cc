#include "kvlab/tokenizer/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <memory>

#include "kvlab/tokenizer/utf8.h"
#include "kvlab/util/error.h"

namespace kvlab {

Regex::Regex(std::string_view pattern, bool literal, std::string_view source) {
  // PCRE2_LITERAL refuses UCP (there are no classes to make Unicode-aware anyway).
  uint32_t options = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | (literal ? PCRE2_LITERAL : PCRE2_UCP);
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), options, &error_code,
                        &error_offset, nullptr);
  if (code_ == nullptr) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error_code, message, sizeof(message));
    throw Error(source, "regex \"" + std::string(pattern) + "\" does not compile at offset " +
                            std::to_string(error_offset) + ": " + reinterpret_cast<const char*>(message));
  }
  // JIT is an optimization only: if it is unavailable the interpreter gives the same matches.
  pcre2_jit_compile(code_, PCRE2_JIT_COMPLETE);
}

Regex::~Regex() { pcre2_code_free(code_); }

const char* Regex::Gpt2Pattern() {
  return R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
}

std::vector<MatchSpan> Regex::FindAll(std::string_view text) const {
  std::vector<MatchSpan> spans;
  // Match data is per call so that one tokenizer can encode from several threads at once.
  std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> md(
      pcre2_match_data_create_from_pattern(code_, nullptr), &pcre2_match_data_free);
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t offset = 0;
  uint32_t extra_options = 0;
  while (offset <= text.size()) {
    int rc = pcre2_match(code_, subject, text.size(), offset, extra_options, md.get(), nullptr);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT) {
      // Very long runs can exhaust the JIT stack; the interpreter uses the heap instead.
      extra_options |= PCRE2_NO_JIT;
      continue;
    }
    if (rc < 0) break;  // no match (or a resource limit): the rest becomes a gap piece
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md.get());
    const size_t begin = ov[0], end = ov[1];
    if (end > begin) {
      spans.emplace_back(begin, end);
      offset = end;
    } else {
      // An empty match: step over one character so the loop always advances.
      if (begin >= text.size()) break;
      offset = begin + Utf8SeqLen(text, begin);
    }
  }
  return spans;
}

std::vector<std::string_view> SplitKeepAll(std::string_view text, const std::vector<MatchSpan>& matches) {
  std::vector<std::string_view> pieces;
  pieces.reserve(matches.size() + 1);
  size_t pos = 0;
  for (const MatchSpan& m : matches) {
    if (m.first > pos) pieces.push_back(text.substr(pos, m.first - pos));
    pieces.push_back(text.substr(m.first, m.second - m.first));
    pos = m.second;
  }
  if (pos < text.size()) pieces.push_back(text.substr(pos));
  return pieces;
}

}  // namespace kvlab
