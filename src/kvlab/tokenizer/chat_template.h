// A model's chat template: the Jinja template instruct models ship to turn a conversation into the prompt
// text they were trained on. Loaded from tokenizer_config.json (Hugging Face) or given as a string (GGUF's
// tokenizer.chat_template), and rendered as transformers' apply_chat_template(tokenize=False) renders it.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "kvlab/template/jinja.h"

namespace kvlab {

struct ChatMessage {
  std::string role, content;
};

class ChatTemplate {
 public:
  // Reads `chat_template` from a tokenizer_config.json: a string, or a list of {name, template} (the one
  // named "default", or the only one). A chat_template.jinja next to the file wins, as in transformers.
  // bos_token / eos_token may be strings, null, or AddedToken objects {"content": ...}.
  // Throws kvlab::Error naming the file when there is no template, or it is malformed or fails to parse.
  static ChatTemplate FromTokenizerConfig(const std::filesystem::path& tokenizer_config_json);

  // A template given as text. `origin` names it in errors ("model.gguf: tokenizer.chat_template").
  // Throws kvlab::Error if it does not parse.
  ChatTemplate(std::string source, std::optional<std::string> bos_token, std::optional<std::string> eos_token,
               std::string origin);

  // Renders `messages` (a JSON array of message objects; fields beyond role/content, like tool_calls, pass
  // through to the template). The template sees what transformers passes: messages, tools = None,
  // documents = None, add_generation_prompt, bos_token / eos_token (when not null), then `extra` (a JSON
  // object, e.g. {"enable_thinking": false} or {"tools": [...]}), which may override any of them.
  // Throws kvlab::Error "chat template (<origin>) line N: ..." (raise_exception's message as is).
  std::string Render(const nlohmann::ordered_json& messages, bool add_generation_prompt,
                     const nlohmann::ordered_json& extra = nlohmann::ordered_json::object()) const;

  // A messages file: a JSON list of objects, each with a string "role" and a "content" that is a string,
  // a list (multimodal parts) or null. Errors name the file and the message index / field.
  static nlohmann::ordered_json ParseMessagesFile(const std::filesystem::path& path);
  static nlohmann::ordered_json ToJson(const std::vector<ChatMessage>& messages);

  const std::string& source() const { return source_; }
  const std::optional<std::string>& bos_token() const { return bos_token_; }
  const std::optional<std::string>& eos_token() const { return eos_token_; }
  const std::string& origin() const { return origin_; }

 private:
  std::string source_;
  std::optional<std::string> bos_token_, eos_token_;
  std::string origin_;
  jinja::Template template_;
};

}  // namespace kvlab
