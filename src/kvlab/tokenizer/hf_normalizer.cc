// Hugging Face normalizers (tokenizers/src/normalizers).
#include "kvlab/tokenizer/hf_pipeline.h"
#include "kvlab/tokenizer/json_file.h"
#include "kvlab/tokenizer/utf8.h"
#include "kvlab/util/error.h"

namespace kvlab {

std::shared_ptr<const Regex> ParseHfPattern(const nlohmann::json& j, const std::string& where) {
  if (j.is_object() && j.contains("String") && j["String"].is_string()) {
    return std::make_shared<const Regex>(j["String"].get<std::string>(), /*literal=*/true, where);
  }
  if (j.is_object() && j.contains("Regex") && j["Regex"].is_string()) {
    return std::make_shared<const Regex>(j["Regex"].get<std::string>(), /*literal=*/false, where);
  }
  throw Error(where, "pattern should be {\"String\": ...} or {\"Regex\": ...}, got " + j.dump());
}

namespace {

void Parse(const nlohmann::json& j, const std::string& where, std::vector<HfNormalizer>* out) {
  if (j.is_null()) return;
  const std::string type = JsonString(j, "type", where);
  if (type == "Sequence") {
    const nlohmann::json& list = JsonMember(j, "normalizers", where);
    if (!list.is_array()) throw Error(where, "\"normalizers\" should be an array");
    for (size_t i = 0; i < list.size(); ++i)
      Parse(list[i], where + ".normalizers[" + std::to_string(i) + "]", out);
  } else if (type == "Prepend") {
    out->push_back({HfNormalizer::Kind::kPrepend, JsonString(j, "prepend", where), nullptr});
  } else if (type == "Replace") {
    out->push_back({HfNormalizer::Kind::kReplace, JsonString(j, "content", where),
                    ParseHfPattern(JsonMember(j, "pattern", where), where + ".pattern")});
  } else if (type == "NFC" || type == "NFD" || type == "NFKC" || type == "NFKD") {
    HfNormalizer n;
    n.kind = HfNormalizer::Kind::kUnicodeForm;
    n.form = type == "NFC"    ? UnicodeForm::kNfc
             : type == "NFD"  ? UnicodeForm::kNfd
             : type == "NFKC" ? UnicodeForm::kNfkc
                              : UnicodeForm::kNfkd;
    out->push_back(std::move(n));
  } else if (type == "Lowercase" || type == "StripAccents") {
    HfNormalizer n;
    n.kind = type == "Lowercase" ? HfNormalizer::Kind::kLowercase : HfNormalizer::Kind::kStripAccents;
    out->push_back(std::move(n));
  } else if (type == "Strip") {
    HfNormalizer n;
    n.kind = HfNormalizer::Kind::kStrip;
    n.left = JsonBool(j, "strip_left", true, where);
    n.right = JsonBool(j, "strip_right", true, where);
    out->push_back(std::move(n));
  } else {
    throw Error(where, "unsupported normalizer type \"" + type + "\"",
                "kvlab implements Sequence, Prepend, Replace, NFC, NFD, NFKC, NFKD, Lowercase, Strip and "
                "StripAccents");
  }
}

std::string ReplaceMatches(std::string_view text, const Regex& regex, std::string_view with) {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  for (const MatchSpan& m : regex.FindAll(text)) {
    out.append(text.substr(pos, m.first - pos));
    out.append(with);
    pos = m.second;
  }
  out.append(text.substr(pos));
  return out;
}

// tokenizers' Strip normalizer: Unicode whitespace off either end.
std::string StripWhitespace(const std::string& s, bool left, bool right) {
  size_t begin = 0, end = s.size();
  size_t len = 0;
  while (left && begin < end && IsUnicodeWhitespace(DecodeUtf8(s, begin, &len))) begin += len;
  if (right) {
    // Walk forward, remembering where the trailing run of whitespace starts.
    size_t last_non_space_end = begin;
    for (size_t pos = begin; pos < end; pos += len) {
      if (!IsUnicodeWhitespace(DecodeUtf8(s, pos, &len))) last_non_space_end = pos + len;
    }
    end = last_non_space_end;
  }
  return s.substr(begin, end - begin);
}

}  // namespace

std::vector<HfNormalizer> ParseHfNormalizer(const nlohmann::json& j, const std::string& where) {
  std::vector<HfNormalizer> out;
  Parse(j, where, &out);
  return out;
}

std::string ApplyHfNormalizers(const std::vector<HfNormalizer>& normalizers, std::string_view text) {
  std::string s(text);
  for (const HfNormalizer& n : normalizers) {
    switch (n.kind) {
      case HfNormalizer::Kind::kPrepend:
        if (!s.empty()) s.insert(0, n.text);  // tokenizers leaves an empty string empty
        break;
      case HfNormalizer::Kind::kReplace:
        s = ReplaceMatches(s, *n.regex, n.text);
        break;
      case HfNormalizer::Kind::kUnicodeForm:
        s = NormalizeUnicode(s, n.form);
        break;
      case HfNormalizer::Kind::kLowercase:
        s = LowercaseUnicode(s);
        break;
      case HfNormalizer::Kind::kStripAccents:
        s = StripCombiningMarks(s);
        break;
      case HfNormalizer::Kind::kStrip:
        s = StripWhitespace(s, n.left, n.right);
        break;
    }
  }
  return s;
}

}  // namespace kvlab
