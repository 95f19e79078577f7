// Hugging Face decoders (tokenizers/src/decoders): over a whole sequence as tokenizers' decode does, and one
// token at a time for streaming.
#include "kvlab/tokenizer/byte_level.h"
#include "kvlab/tokenizer/hf_pipeline.h"
#include "kvlab/tokenizer/json_file.h"
#include "kvlab/tokenizer/utf8.h"
#include "kvlab/util/error.h"

namespace kvlab {
namespace {

std::string ReplaceAll(std::string_view text, std::string_view from, std::string_view to) {
  if (from.empty()) return std::string(text);
  std::string out;
  for (size_t pos = 0;;) {
    const size_t hit = text.find(from, pos);
    if (hit == std::string_view::npos) return out.append(text.substr(pos));
    out.append(text.substr(pos, hit - pos)).append(to);
    pos = hit + from.size();
  }
}

// "<0x41>" -> 'A' as one raw byte; false for anything else.
bool ParseByteToken(std::string_view s, char* byte) {
  if (s.size() != 6 || s.substr(0, 3) != "<0x" || s[5] != '>') return false;
  int value = 0;
  for (char c : s.substr(3, 2)) {
    value *= 16;
    if (c >= '0' && c <= '9') {
      value += c - '0';
    } else if (c >= 'A' && c <= 'F') {
      value += c - 'A' + 10;
    } else {
      return false;  // tokenizers formats byte tokens with upper-case hex only
    }
  }
  *byte = static_cast<char>(value);
  return true;
}

// Drops up to `count` copies of `c` (one UTF-8 character) from the start or the end of `s`.
void StripChars(std::string* s, const std::string& c, int count, bool at_start) {
  for (int i = 0; i < count && !c.empty(); ++i) {
    if (at_start && s->compare(0, c.size(), c) == 0) {
      s->erase(0, c.size());
    } else if (!at_start && s->size() >= c.size() && s->compare(s->size() - c.size(), c.size(), c) == 0) {
      s->resize(s->size() - c.size());
    } else {
      return;
    }
  }
}

void Parse(const nlohmann::json& j, const std::string& where, std::vector<HfDecoder>* out) {
  if (j.is_null()) return;
  const std::string type = JsonString(j, "type", where);
  HfDecoder d;
  if (type == "Sequence") {
    const nlohmann::json& list = JsonMember(j, "decoders", where);
    if (!list.is_array()) throw Error(where, "\"decoders\" should be an array");
    for (size_t i = 0; i < list.size(); ++i)
      Parse(list[i], where + ".decoders[" + std::to_string(i) + "]", out);
    return;
  } else if (type == "Replace") {
    d.kind = HfDecoder::Kind::kReplace;
    const nlohmann::json& pattern = JsonMember(j, "pattern", where);
    if (!pattern.is_object() || !pattern.contains("String") || !pattern["String"].is_string()) {
      throw Error(where, "only String patterns are supported in a Replace decoder, got " + pattern.dump());
    }
    d.pattern = pattern["String"].get<std::string>();
    d.content = JsonString(j, "content", where);
  } else if (type == "ByteFallback") {
    d.kind = HfDecoder::Kind::kByteFallback;
  } else if (type == "Fuse") {
    d.kind = HfDecoder::Kind::kFuse;
  } else if (type == "Strip") {
    d.kind = HfDecoder::Kind::kStrip;
    d.pattern = JsonString(j, "content", where);
    d.start = static_cast<int>(JsonInt(j, "start", where));
    d.stop = static_cast<int>(JsonInt(j, "stop", where));
  } else if (type == "ByteLevel") {
    d.kind = HfDecoder::Kind::kByteLevel;
  } else if (type == "Metaspace") {
    d.kind = HfDecoder::Kind::kMetaspace;
    d.pattern = JsonString(j, "replacement", where);
    if (j.contains("prepend_scheme") && j["prepend_scheme"].is_string()) {
      d.drop_first_marker = j["prepend_scheme"].get<std::string>() != "never";
    } else {
      d.drop_first_marker = JsonBool(j, "add_prefix_space", true, where);
    }
  } else {
    throw Error(where, "unsupported decoder type \"" + type + "\"",
                "kvlab implements Sequence, Replace, ByteFallback, Fuse, Strip, ByteLevel and Metaspace");
  }
  out->push_back(std::move(d));
}

}  // namespace

std::vector<HfDecoder> ParseHfDecoder(const nlohmann::json& j, const std::string& where) {
  std::vector<HfDecoder> out;
  Parse(j, where, &out);
  return out;
}

std::string ApplyHfDecoders(const std::vector<HfDecoder>& decoders, std::string token, bool first) {
  // After Fuse, tokenizers treats the whole text as one string: per-token steps then act on its start
  // (our first token) and its end (unknown while streaming).
  bool fused = false;
  for (const HfDecoder& d : decoders) {
    switch (d.kind) {
      case HfDecoder::Kind::kReplace:
        token = ReplaceAll(token, d.pattern, d.content);
        break;
      case HfDecoder::Kind::kByteFallback: {
        char byte;
        if (ParseByteToken(token, &byte)) token.assign(1, byte);
        break;
      }
      case HfDecoder::Kind::kFuse:
        fused = true;
        break;
      case HfDecoder::Kind::kStrip:
        if (!fused || first) StripChars(&token, d.pattern, d.start, /*at_start=*/true);
        if (!fused) StripChars(&token, d.pattern, d.stop, /*at_start=*/false);
        break;
      case HfDecoder::Kind::kByteLevel: {
        std::string bytes;
        if (ByteLevelDecode(token, &bytes)) token = std::move(bytes);
        break;
      }
      case HfDecoder::Kind::kMetaspace:
        // tokenizers drops every marker of the first token (not only a leading one) and turns the rest
        // into spaces.
        token = ReplaceAll(token, d.pattern, first && d.drop_first_marker ? "" : " ");
        break;
    }
  }
  return token;
}

std::string ApplyHfDecodersToSequence(const std::vector<HfDecoder>& decoders, std::vector<std::string> tokens) {
  if (decoders.empty()) {  // tokenizers joins the tokens with spaces when there is no decoder
    std::string out;
    for (size_t i = 0; i < tokens.size(); ++i) out += (i ? " " : "") + tokens[i];
    return out;
  }
  for (const HfDecoder& d : decoders) {
    std::vector<std::string> next;
    next.reserve(tokens.size());
    switch (d.kind) {
      case HfDecoder::Kind::kReplace:
        for (std::string& t : tokens) next.push_back(ReplaceAll(t, d.pattern, d.content));
        break;
      case HfDecoder::Kind::kByteFallback: {
        // A run of byte tokens becomes its UTF-8 text, or one U+FFFD per byte when it is not valid UTF-8.
        std::string run;
        size_t run_tokens = 0;
        auto flush = [&] {
          if (run_tokens == 0) return;
          if (SanitizeUtf8(run) == run) {
            next.push_back(run);
          } else {
            std::string replacement;
            for (size_t i = 0; i < run_tokens; ++i) replacement += "\uFFFD";
            next.push_back(replacement);
          }
          run.clear();
          run_tokens = 0;
        };
        for (std::string& t : tokens) {
          char byte;
          if (ParseByteToken(t, &byte)) {
            run.push_back(byte);
            ++run_tokens;
          } else {
            flush();
            next.push_back(std::move(t));
          }
        }
        flush();
        break;
      }
      case HfDecoder::Kind::kFuse: {
        std::string all;
        for (const std::string& t : tokens) all += t;
        next.push_back(std::move(all));
        break;
      }
      case HfDecoder::Kind::kStrip:
        for (std::string& t : tokens) {
          StripChars(&t, d.pattern, d.start, /*at_start=*/true);
          StripChars(&t, d.pattern, d.stop, /*at_start=*/false);
          next.push_back(std::move(t));
        }
        break;
      case HfDecoder::Kind::kByteLevel: {
        // All tokens become one byte string (a token with a character outside the alphabet contributes its
        // own bytes), read back as UTF-8 with invalid sequences replaced.
        std::string bytes;
        for (const std::string& t : tokens) {
          if (!ByteLevelDecode(t, &bytes)) bytes += t;
        }
        next.push_back(SanitizeUtf8(bytes));
        break;
      }
      case HfDecoder::Kind::kMetaspace:
        for (size_t i = 0; i < tokens.size(); ++i) {
          next.push_back(ReplaceAll(tokens[i], d.pattern, i == 0 && d.drop_first_marker ? "" : " "));
        }
        break;
    }
    tokens = std::move(next);
  }
  std::string out;
  for (const std::string& t : tokens) out += t;
  return out;
}

}  // namespace kvlab
