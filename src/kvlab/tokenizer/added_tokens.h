// Added tokens: strings that are cut out of the text before the model tokenizes it, so "<|eot_id|>" is one
// id instead of seven pieces. Hugging Face tokenizer.json lists them under "added_tokens"; a GGUF vocabulary
// marks them as control (special) or user-defined (not special) tokens.
//
// Matching is leftmost-longest, as tokenizers' Aho-Corasick matcher does: at the first position where any
// active token occurs, the longest one wins. Special tokens are active only when the caller parses special
// text (EncodeOptions::parse_special); the others always are.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kvlab {

struct AddedToken {
  std::string content;
  int32_t id = -1;
  bool special = false;
  bool normalized = false;   // matched in the normalized text (else in the raw input)
  bool lstrip = false;       // the match swallows whitespace on its left
  bool rstrip = false;       // ... and on its right
  bool single_word = false;  // only where it is not part of a longer word
};

class AddedTokenSplitter {
 public:
  AddedTokenSplitter() = default;
  explicit AddedTokenSplitter(std::vector<AddedToken> tokens);

  // A piece of input: text still to tokenize (token < 0), or an added token already recognised.
  struct Segment {
    std::string_view text;
    int32_t token = -1;
  };
  // Cuts `text` around the tokens whose `normalized` flag equals `normalized`; special tokens only when
  // `parse_special`. Segments view `text`.
  std::vector<Segment> Split(std::string_view text, bool normalized, bool parse_special) const;

  const std::vector<AddedToken>& tokens() const { return tokens_; }
  // The token whose content is exactly `content`, or null.
  const AddedToken* Find(std::string_view content) const;

 private:
  // A byte trie over the contents; node 0 is the root.
  struct Node {
    std::vector<std::pair<uint8_t, int32_t>> children;  // (byte, node), sorted by byte
    int32_t token = -1;                                 // index into tokens_ of the content ending here
  };
  int32_t Child(int32_t node, uint8_t byte) const;
  // The longest active token starting at `pos` that fits its single_word rule, or -1.
  int32_t LongestAt(std::string_view text, size_t pos, bool normalized, bool parse_special) const;

  std::vector<AddedToken> tokens_;
  std::vector<Node> nodes_;
  bool starts_[256] = {};  // bytes some token starts with: a quick skip for the rest
};

}  // namespace kvlab
