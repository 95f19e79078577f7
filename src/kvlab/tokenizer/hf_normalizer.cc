// Hugging Face normalizers (tokenizers/src/normalizers).
#include "kvlab/tokenizer/hf_pipeline.h"
#include "kvlab/tokenizer/json_file.h"
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
  } else if (type == "NFC") {
    out->push_back({HfNormalizer::Kind::kNfc, {}, nullptr});
  } else {
    throw Error(where, "unsupported normalizer type \"" + type + "\"",
                "kvlab implements Sequence, Prepend, Replace and NFC");
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
      case HfNormalizer::Kind::kNfc:
        break;  // identity, see hf_pipeline.h
    }
  }
  return s;
}

}  // namespace kvlab
