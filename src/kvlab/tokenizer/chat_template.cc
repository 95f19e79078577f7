#include "kvlab/tokenizer/chat_template.h"

#include "kvlab/util/error.h"
#include "kvlab/util/mapped_file.h"

namespace kvlab {
namespace {

using ojson = nlohmann::ordered_json;

ojson ReadOrderedJson(const std::filesystem::path& path) {
  const std::string text = ReadTextFile(path);
  try {
    return ojson::parse(text);
  } catch (const ojson::exception& e) {
    throw Error(path.string(), std::string("invalid JSON: ") + e.what());
  }
}

// A special token in tokenizer_config.json: "text", null, or an AddedToken {"content": "text", ...}.
std::optional<std::string> SpecialToken(const ojson& config, const char* key, const std::string& where) {
  const auto it = config.find(key);
  if (it == config.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object()) {
    const auto content = it->find("content");
    if (content != it->end() && content->is_string()) return content->get<std::string>();
  }
  throw Error(where, std::string(key) + " should be a string, null or an object with a string \"content\"");
}

std::string TemplateFromConfig(const ojson& config, const std::string& where) {
  const auto it = config.find("chat_template");
  if (it == config.end() || it->is_null())
    throw Error(where, "no chat_template (base models often have none)", "pass the template text explicitly");
  if (it->is_string()) return it->get<std::string>();
  if (!it->is_array())
    throw Error(where, "chat_template should be a string or a list of {\"name\", \"template\"} objects");
  const ojson* chosen = nullptr;
  std::string names;
  for (const ojson& entry : *it) {
    if (!entry.is_object() || !entry.contains("name") || !entry["name"].is_string() || !entry.contains("template") ||
        !entry["template"].is_string())
      throw Error(where, "chat_template list entries should be {\"name\": string, \"template\": string}");
    const std::string name = entry["name"].get<std::string>();
    names += (names.empty() ? "" : ", ") + name;
    if (name == "default") chosen = &entry;
  }
  if (!chosen && it->size() == 1) chosen = &(*it)[0];
  if (!chosen) throw Error(where, "chat_template has no template named \"default\" (it has: " + names + ")");
  return (*chosen)["template"].get<std::string>();
}

}  // namespace

ChatTemplate ChatTemplate::FromTokenizerConfig(const std::filesystem::path& tokenizer_config_json) {
  const std::string where = tokenizer_config_json.string();
  const ojson config = ReadOrderedJson(tokenizer_config_json);
  if (!config.is_object()) throw Error(where, "expected a JSON object");
  const std::filesystem::path jinja_file = tokenizer_config_json.parent_path() / "chat_template.jinja";
  std::string source, origin = where;
  if (std::filesystem::is_regular_file(jinja_file)) {  // transformers' newer layout: it takes precedence
    source = ReadTextFile(jinja_file);
    origin = jinja_file.string();
  } else {
    source = TemplateFromConfig(config, where);
  }
  return ChatTemplate(std::move(source), SpecialToken(config, "bos_token", where),
                      SpecialToken(config, "eos_token", where), std::move(origin));
}

ChatTemplate::ChatTemplate(std::string source, std::optional<std::string> bos_token,
                           std::optional<std::string> eos_token, std::string origin)
    : source_(std::move(source)),
      bos_token_(std::move(bos_token)),
      eos_token_(std::move(eos_token)),
      origin_(std::move(origin)),
      template_(source_, "chat template (" + origin_ + ")") {}

std::string ChatTemplate::Render(const nlohmann::ordered_json& messages, bool add_generation_prompt,
                                 const nlohmann::ordered_json& extra) const {
  const std::string where = "chat template (" + origin_ + ")";
  if (!messages.is_array()) throw Error(where, "messages should be a JSON list, got " + std::string(messages.type_name()));
  if (!extra.is_object()) throw Error(where, "extra variables should be a JSON object");
  ojson vars = ojson::object();
  vars["messages"] = messages;
  vars["tools"] = nullptr;
  vars["documents"] = nullptr;
  vars["add_generation_prompt"] = add_generation_prompt;
  if (bos_token_) vars["bos_token"] = *bos_token_;
  if (eos_token_) vars["eos_token"] = *eos_token_;
  for (const auto& [key, value] : extra.items()) vars[key] = value;
  return template_.Render(vars);
}

nlohmann::ordered_json ChatTemplate::ParseMessagesFile(const std::filesystem::path& path) {
  const std::string where = path.string();
  const ojson messages = ReadOrderedJson(path);
  if (!messages.is_array()) throw Error(where, "expected a JSON list of {\"role\", \"content\"} objects");
  for (size_t i = 0; i < messages.size(); ++i) {
    const ojson& m = messages[i];
    const std::string at = where + ": message " + std::to_string(i);
    if (!m.is_object()) throw Error(at, "expected an object with \"role\" and \"content\"");
    if (!m.contains("role") || !m["role"].is_string()) throw Error(at, "\"role\" should be a string");
    if (!m.contains("content")) throw Error(at, "missing \"content\"");
    const ojson& content = m["content"];
    if (!content.is_string() && !content.is_array() && !content.is_null())
      throw Error(at, "\"content\" should be a string, a list of parts or null, got " + std::string(content.type_name()));
  }
  return messages;
}

nlohmann::ordered_json ChatTemplate::ToJson(const std::vector<ChatMessage>& messages) {
  ojson out = ojson::array();
  for (const ChatMessage& m : messages) out.push_back({{"role", m.role}, {"content", m.content}});
  return out;
}

}  // namespace kvlab
