#include "kvlab/tokenizer/added_tokens.h"

#include <algorithm>

#include "kvlab/tokenizer/utf8.h"

namespace kvlab {
namespace {

// Start of the UTF-8 character that ends just before `end`.
size_t PreviousCharStart(std::string_view text, size_t end) {
  size_t pos = end - 1;
  while (pos > 0 && end - pos < 4 && (static_cast<uint8_t>(text[pos]) & 0xC0) == 0x80) --pos;
  return pos;
}

// A word character for single_word: alphanumeric or '_' (any non-ASCII letter counts, approximating Rust's
// char::is_alphanumeric with "not whitespace and not ASCII punctuation").
bool IsWordChar(char32_t c) {
  if (c < 0x80) return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  return !IsUnicodeWhitespace(c);
}

}  // namespace

AddedTokenSplitter::AddedTokenSplitter(std::vector<AddedToken> tokens) : tokens_(std::move(tokens)) {
  nodes_.emplace_back();
  for (size_t i = 0; i < tokens_.size(); ++i) {
    const std::string& content = tokens_[i].content;
    if (content.empty()) continue;
    starts_[static_cast<uint8_t>(content[0])] = true;
    int32_t node = 0;
    for (char ch : content) {
      const auto byte = static_cast<uint8_t>(ch);
      auto& children = nodes_[node].children;
      auto it = std::lower_bound(children.begin(), children.end(), std::make_pair(byte, int32_t{-1}));
      if (it != children.end() && it->first == byte) {
        node = it->second;
        continue;
      }
      const auto next = static_cast<int32_t>(nodes_.size());
      children.insert(it, {byte, next});
      nodes_.emplace_back();  // invalidates `children`; not used again below
      node = next;
    }
    // A repeated content keeps its first entry, as tokenizers' added vocabulary does.
    if (nodes_[node].token < 0) nodes_[node].token = static_cast<int32_t>(i);
  }
}

int32_t AddedTokenSplitter::Child(int32_t node, uint8_t byte) const {
  const auto& children = nodes_[node].children;
  auto it = std::lower_bound(children.begin(), children.end(), std::make_pair(byte, int32_t{-1}));
  return it != children.end() && it->first == byte ? it->second : -1;
}

const AddedToken* AddedTokenSplitter::Find(std::string_view content) const {
  if (nodes_.empty()) return nullptr;
  int32_t node = 0;
  for (char ch : content) {
    node = Child(node, static_cast<uint8_t>(ch));
    if (node < 0) return nullptr;
  }
  return nodes_[node].token >= 0 ? &tokens_[nodes_[node].token] : nullptr;
}

int32_t AddedTokenSplitter::LongestAt(std::string_view text, size_t pos, bool normalized,
                                      bool parse_special) const {
  int32_t best = -1;
  int32_t node = 0;
  for (size_t i = pos; i < text.size(); ++i) {
    node = Child(node, static_cast<uint8_t>(text[i]));
    if (node < 0) break;
    const int32_t t = nodes_[node].token;
    if (t < 0) continue;
    const AddedToken& token = tokens_[t];
    if (token.normalized != normalized || (token.special && !parse_special)) continue;
    if (token.single_word) {
      size_t len = 0;
      const size_t end = i + 1;
      if (pos > 0 && IsWordChar(DecodeUtf8(text, PreviousCharStart(text, pos), &len))) continue;
      if (end < text.size() && IsWordChar(DecodeUtf8(text, end, &len))) continue;
    }
    best = t;
  }
  return best;
}

std::vector<AddedTokenSplitter::Segment> AddedTokenSplitter::Split(std::string_view text, bool normalized,
                                                                   bool parse_special) const {
  std::vector<Segment> out;
  size_t begin = 0;  // start of the pending text segment
  if (!tokens_.empty()) {
    for (size_t pos = 0; pos < text.size();) {
      if (!starts_[static_cast<uint8_t>(text[pos])]) {
        ++pos;
        continue;
      }
      const int32_t t = LongestAt(text, pos, normalized, parse_special);
      if (t < 0) {
        ++pos;
        continue;
      }
      const AddedToken& token = tokens_[t];
      size_t match_begin = pos, match_end = pos + token.content.size();
      size_t len = 0;
      if (token.lstrip) {
        while (match_begin > begin) {
          const size_t prev = PreviousCharStart(text, match_begin);
          if (!IsUnicodeWhitespace(DecodeUtf8(text, prev, &len))) break;
          match_begin = prev;
        }
      }
      if (token.rstrip) {
        while (match_end < text.size() && IsUnicodeWhitespace(DecodeUtf8(text, match_end, &len))) match_end += len;
      }
      if (match_begin > begin) out.push_back({text.substr(begin, match_begin - begin), -1});
      out.push_back({{}, token.id});
      pos = begin = match_end;
    }
  }
  if (begin < text.size()) out.push_back({text.substr(begin), -1});
  return out;
}

}  // namespace kvlab
