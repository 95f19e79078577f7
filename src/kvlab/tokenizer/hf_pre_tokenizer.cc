// Hugging Face pre-tokenizers (tokenizers/src/pre_tokenizers): they cut normalized text into the words
// BPE runs on, so merges never cross a word boundary.
#include <algorithm>

#include "kvlab/tokenizer/byte_level.h"
#include "kvlab/tokenizer/hf_pipeline.h"
#include "kvlab/tokenizer/json_file.h"
#include "kvlab/util/error.h"

namespace kvlab {
namespace {

HfSplitBehavior ParseBehavior(const nlohmann::json& j, const std::string& where) {
  auto it = j.find("behavior");
  if (it == j.end() || it->is_null()) return HfSplitBehavior::kIsolated;
  const std::string b = it->is_string() ? it->get<std::string>() : it->dump();
  if (b == "Removed") return HfSplitBehavior::kRemoved;
  if (b == "Isolated") return HfSplitBehavior::kIsolated;
  if (b == "MergedWithPrevious") return HfSplitBehavior::kMergedWithPrevious;
  if (b == "MergedWithNext") return HfSplitBehavior::kMergedWithNext;
  if (b == "Contiguous") return HfSplitBehavior::kContiguous;
  throw Error(where, "unknown split behavior " + b);
}

HfPreTokenizer RegexSplit(const char* pattern, HfSplitBehavior behavior, bool invert,
                          const std::string& where) {
  HfPreTokenizer p;
  p.kind = HfPreTokenizer::Kind::kSplit;
  p.regex = std::make_shared<const Regex>(pattern, /*literal=*/false, where);
  p.behavior = behavior;
  p.invert = invert;
  return p;
}

void Parse(const nlohmann::json& j, const std::string& where, std::vector<HfPreTokenizer>* out) {
  if (j.is_null()) return;
  const std::string type = JsonString(j, "type", where);
  if (type == "Sequence") {
    const nlohmann::json& list = JsonMember(j, "pretokenizers", where);
    if (!list.is_array()) throw Error(where, "\"pretokenizers\" should be an array");
    for (size_t i = 0; i < list.size(); ++i) {
      Parse(list[i], where + ".pretokenizers[" + std::to_string(i) + "]", out);
    }
  } else if (type == "ByteLevel") {
    HfPreTokenizer p;
    p.kind = HfPreTokenizer::Kind::kByteLevel;
    p.add_prefix_space = JsonBool(j, "add_prefix_space", true, where);
    if (JsonBool(j, "use_regex", true, where)) {
      p.regex = std::make_shared<const Regex>(Regex::Gpt2Pattern(), /*literal=*/false, where);
    }
    out->push_back(std::move(p));
  } else if (type == "Metaspace") {
    HfPreTokenizer p;
    p.kind = HfPreTokenizer::Kind::kMetaspace;
    p.replacement = JsonString(j, "replacement", where);
    p.split = JsonBool(j, "split", true, where);
    if (j.contains("prepend_scheme") && j["prepend_scheme"].is_string()) {
      const std::string scheme = j["prepend_scheme"].get<std::string>();
      if (scheme == "always") {
        p.prepend = HfPreTokenizer::Prepend::kAlways;
      } else if (scheme == "first") {
        p.prepend = HfPreTokenizer::Prepend::kFirst;
      } else if (scheme == "never") {
        p.prepend = HfPreTokenizer::Prepend::kNever;
      } else {
        throw Error(where, "unknown Metaspace prepend_scheme \"" + scheme + "\"");
      }
    } else {  // files written before prepend_scheme existed
      p.prepend = JsonBool(j, "add_prefix_space", true, where) ? HfPreTokenizer::Prepend::kAlways
                                                               : HfPreTokenizer::Prepend::kNever;
    }
    out->push_back(std::move(p));
  } else if (type == "Split") {
    HfPreTokenizer p;
    p.kind = HfPreTokenizer::Kind::kSplit;
    p.regex = ParseHfPattern(JsonMember(j, "pattern", where), where + ".pattern");
    p.behavior = ParseBehavior(j, where);
    p.invert = JsonBool(j, "invert", false, where);
    out->push_back(std::move(p));
  } else if (type == "Digits") {
    const bool individual = JsonBool(j, "individual_digits", false, where);
    out->push_back(RegexSplit("[0-9]", individual ? HfSplitBehavior::kIsolated : HfSplitBehavior::kContiguous,
                              false, where));
  } else if (type == "Whitespace") {
    out->push_back(RegexSplit(R"(\w+|[^\w\s]+)", HfSplitBehavior::kRemoved, /*invert=*/true, where));
  } else if (type == "WhitespaceSplit") {
    out->push_back(RegexSplit(R"(\s+)", HfSplitBehavior::kRemoved, false, where));
  } else if (type == "Punctuation") {
    HfPreTokenizer p = RegexSplit(R"([\p{P}!-/:-@\[-`{-~])", HfSplitBehavior::kIsolated, false, where);
    p.behavior = ParseBehavior(j, where);
    out->push_back(std::move(p));
  } else {
    throw Error(where, "unsupported pre_tokenizer type \"" + type + "\"",
                "kvlab implements Sequence, ByteLevel, Metaspace, Split, Digits, Whitespace, WhitespaceSplit "
                "and Punctuation");
  }
}

std::string ReplaceSpaces(std::string_view text, const std::string& with) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == ' ') {
      out += with;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// Pre-tokenizer `k` of the chain applied to one split; each piece goes on to pre-tokenizer k + 1, and
// past the last one to `emit`.
void Apply(const std::vector<HfPreTokenizer>& chain, size_t k, std::string_view text, bool at_start,
           const std::function<void(std::string_view)>& emit) {
  if (k == chain.size()) {
    if (!text.empty()) emit(text);  // tokenizers drops empty splits
    return;
  }
  auto next = [&](std::string_view piece, bool first) {
    Apply(chain, k + 1, piece, at_start && first, emit);
  };
  const HfPreTokenizer& p = chain[k];
  switch (p.kind) {
    case HfPreTokenizer::Kind::kSplit: {
      bool first = true;
      for (std::string_view piece : HfSplit(text, *p.regex, p.behavior, p.invert)) {
        next(piece, first);
        first = false;
      }
      return;
    }
    case HfPreTokenizer::Kind::kByteLevel: {
      std::string s(text);
      if (p.add_prefix_space && (s.empty() || s[0] != ' ')) s.insert(0, " ");
      if (p.regex == nullptr) {
        next(ByteLevelEncode(s), true);
        return;
      }
      bool first = true;
      for (std::string_view piece : SplitKeepAll(s, p.regex->FindAll(s))) {
        next(ByteLevelEncode(piece), first);
        first = false;
      }
      return;
    }
    case HfPreTokenizer::Kind::kMetaspace: {
      std::string s = ReplaceSpaces(text, p.replacement);
      const bool prepend = p.prepend == HfPreTokenizer::Prepend::kAlways ||
                           (p.prepend == HfPreTokenizer::Prepend::kFirst && at_start);
      if (prepend && s.compare(0, p.replacement.size(), p.replacement) != 0) s.insert(0, p.replacement);
      if (!p.split) {
        next(s, true);
        return;
      }
      // Split before every marker, keeping it at the start of the next word.
      const std::string_view view(s);
      size_t begin = 0;
      for (size_t pos = s.find(p.replacement, 1); pos != std::string::npos;
           pos = s.find(p.replacement, pos + 1)) {
        next(view.substr(begin, pos - begin), begin == 0);
        begin = pos;
        pos += p.replacement.size() - 1;
      }
      next(view.substr(begin), begin == 0);
      return;
    }
  }
}

}  // namespace

std::vector<HfPreTokenizer> ParseHfPreTokenizer(const nlohmann::json& j, const std::string& where) {
  std::vector<HfPreTokenizer> out;
  Parse(j, where, &out);
  return out;
}

void ForEachHfWord(const std::vector<HfPreTokenizer>& pre, std::string_view text, bool at_start,
                   const std::function<void(std::string_view)>& emit) {
  Apply(pre, 0, text, at_start, emit);
}

std::vector<std::string_view> HfSplit(std::string_view text, const Regex& regex, HfSplitBehavior behavior,
                                      bool invert) {
  // Segments covering the text: (begin, end, is_match), as tokenizers' Pattern::find_matches.
  struct Segment {
    size_t begin, end;
    bool match;
  };
  std::vector<Segment> segments;
  size_t pos = 0;
  for (const MatchSpan& m : regex.FindAll(text)) {
    if (m.first > pos) segments.push_back({pos, m.first, invert});
    segments.push_back({m.first, m.second, !invert});
    pos = m.second;
  }
  if (pos < text.size()) segments.push_back({pos, text.size(), invert});

  // The folds of tokenizers' NormalizedString::split, keeping (begin, end, removed).
  std::vector<Segment> kept;  // here `match` means "remove"
  bool previous_match = false;
  switch (behavior) {
    case HfSplitBehavior::kIsolated:
      for (const Segment& s : segments) kept.push_back({s.begin, s.end, false});
      break;
    case HfSplitBehavior::kRemoved:
      kept = segments;
      break;
    case HfSplitBehavior::kContiguous:
      for (const Segment& s : segments) {
        if (s.match == previous_match && !kept.empty()) {
          kept.back().end = s.end;
        } else {
          kept.push_back({s.begin, s.end, false});
        }
        previous_match = s.match;
      }
      break;
    case HfSplitBehavior::kMergedWithPrevious:
      for (const Segment& s : segments) {
        if (s.match && !previous_match && !kept.empty()) {
          kept.back().end = s.end;
        } else {
          kept.push_back({s.begin, s.end, false});
        }
        previous_match = s.match;
      }
      break;
    case HfSplitBehavior::kMergedWithNext:
      for (auto it = segments.rbegin(); it != segments.rend(); ++it) {
        if (it->match && !previous_match && !kept.empty()) {
          kept.back().begin = it->begin;
        } else {
          kept.push_back({it->begin, it->end, false});
        }
        previous_match = it->match;
      }
      std::reverse(kept.begin(), kept.end());
      break;
  }
  std::vector<std::string_view> pieces;
  for (const Segment& s : kept) {
    if (!s.match && s.end > s.begin) pieces.push_back(text.substr(s.begin, s.end - s.begin));
  }
  return pieces;
}

}  // namespace kvlab
