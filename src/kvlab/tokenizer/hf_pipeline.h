// The pieces of a Hugging Face tokenizer.json pipeline that kvlab implements: normalizers, pre-tokenizers
// and decoders. Each Parse* throws kvlab::Error naming the JSON path and the unsupported type, so a
// tokenizer that would silently tokenize differently from `tokenizers` is rejected at load time.
//
// Supported:
//   normalizer:    Sequence, Prepend, Replace (String or Regex), NFC, NFD, NFKC, NFKD, Lowercase, Strip,
//                  StripAccents
//   pre_tokenizer: Sequence, ByteLevel, Metaspace, Split, Digits, Whitespace, WhitespaceSplit, Punctuation
//   decoder:       Sequence, Replace (String), ByteFallback, Fuse, Strip, ByteLevel, Metaspace
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "kvlab/tokenizer/regex.h"
#include "kvlab/tokenizer/unicode_normalize.h"

namespace kvlab {

struct HfNormalizer {
  enum class Kind { kPrepend, kReplace, kUnicodeForm, kLowercase, kStrip, kStripAccents };
  Kind kind = Kind::kPrepend;
  std::string text;                      // Prepend: the prefix; Replace: the replacement
  std::shared_ptr<const Regex> regex;    // Replace: what to replace (a String pattern compiles as a literal)
  UnicodeForm form = UnicodeForm::kNfc;  // kUnicodeForm: NFC, NFD, NFKC or NFKD
  bool left = true;                    // Strip: which sides
  bool right = true;
};

// `j` is the "normalizer" value (null allowed); Sequence is flattened.
std::vector<HfNormalizer> ParseHfNormalizer(const nlohmann::json& j, const std::string& where);
std::string ApplyHfNormalizers(const std::vector<HfNormalizer>& normalizers, std::string_view text);

enum class HfSplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

struct HfPreTokenizer {
  enum class Kind { kByteLevel, kMetaspace, kSplit };
  enum class Prepend { kAlways, kFirst, kNever };
  Kind kind = Kind::kSplit;
  std::shared_ptr<const Regex> regex;  // Split pattern; ByteLevel's GPT-2 regex (null: use_regex false)
  HfSplitBehavior behavior = HfSplitBehavior::kIsolated;
  bool invert = false;
  bool add_prefix_space = false;       // ByteLevel
  std::string replacement;             // Metaspace ("▁")
  Prepend prepend = Prepend::kAlways;  // Metaspace
  bool split = true;                   // Metaspace
};

std::vector<HfPreTokenizer> ParseHfPreTokenizer(const nlohmann::json& j, const std::string& where);
// Cuts one normalized segment into the words BPE sees and calls `emit` with each non-empty word in order
// (the view is valid during the call only). `at_start`: the segment begins the input (Metaspace's
// prepend_scheme "first"). Words are passed down the chain one at a time, so no list of a whole book's
// words is ever built.
void ForEachHfWord(const std::vector<HfPreTokenizer>& pre, std::string_view text, bool at_start,
                   const std::function<void(std::string_view)>& emit);

struct HfDecoder {
  enum class Kind { kReplace, kByteFallback, kFuse, kStrip, kByteLevel, kMetaspace };
  Kind kind = Kind::kFuse;
  std::string pattern;  // Replace: what; Strip: the character; Metaspace: the replacement
  std::string content;  // Replace: with what
  int start = 0;        // Strip: characters to drop at the start / end
  int stop = 0;
  bool drop_first_marker = true;  // Metaspace: prepend_scheme != "never"
};

std::vector<HfDecoder> ParseHfDecoder(const nlohmann::json& j, const std::string& where);
// Decodes one token for streaming. `first`: the token starts the decoded text. Hugging Face decodes a whole
// list of tokens at once; per token, this gives the same bytes except that ByteFallback emits raw bytes
// (a partial UTF-8 character stays partial instead of becoming U+FFFD) and a Strip after Fuse cannot see
// the end of the text, so its `stop` is not applied.
std::string ApplyHfDecoders(const std::vector<HfDecoder>& decoders, std::string token, bool first);
// Decodes a whole sequence of token strings exactly as tokenizers' decode does (decode_chain of each
// decoder in turn, then the pieces joined; no decoder: joined with spaces).
std::string ApplyHfDecodersToSequence(const std::vector<HfDecoder>& decoders, std::vector<std::string> tokens);

// {"String": s} (matched literally) or {"Regex": r} -> a compiled pattern.
std::shared_ptr<const Regex> ParseHfPattern(const nlohmann::json& j, const std::string& where);

// Splits `text` by `regex` the way Hugging Face's Split pre-tokenizer does for `behavior`/`invert`.
std::vector<std::string_view> HfSplit(std::string_view text, const Regex& regex, HfSplitBehavior behavior,
                                      bool invert);

}  // namespace kvlab
