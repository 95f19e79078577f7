#include "kvlab/tokenizer/model_chat_template.h"

#include <algorithm>
#include <optional>
#include <string>

#include "kvlab/io/gguf.h"
#include "kvlab/util/error.h"
#include "kvlab/util/mapped_file.h"

namespace kvlab {
namespace {

namespace fs = std::filesystem;

std::optional<std::string> TokenText(const Tokenizer& tokenizer, int32_t id) {
  if (id < 0 || id >= tokenizer.vocab_size()) return std::nullopt;
  return std::string(tokenizer.Piece(id));
}

ChatTemplate FromGguf(const fs::path& path, const Tokenizer& tokenizer) {
  const GgufFile gguf = GgufFile::Open(path);
  const std::optional<std::string> source = gguf.FindString("tokenizer.chat_template");
  if (!source) {
    throw Error(path.string(), "has no tokenizer.chat_template",
                "give a Jinja template with --chat-template FILE");
  }
  return ChatTemplate(*source, TokenText(tokenizer, tokenizer.bos_id()),
                      TokenText(tokenizer, tokenizer.eos_id()), path.string() + ": tokenizer.chat_template");
}

ChatTemplate FromDirectory(const fs::path& dir, const std::string& what) {
  const fs::path config = dir / "tokenizer_config.json";
  if (!fs::is_regular_file(config) && !fs::is_regular_file(dir / "chat_template.jinja")) {
    throw Error(what, "no tokenizer_config.json or chat_template.jinja in " + dir.string(),
                "give a Jinja template with --chat-template FILE");
  }
  if (!fs::is_regular_file(config)) {
    const fs::path jinja = dir / "chat_template.jinja";
    return ChatTemplate(ReadTextFile(jinja), std::nullopt, std::nullopt, jinja.string());
  }
  return ChatTemplate::FromTokenizerConfig(config);
}

bool IsGguf(const fs::path& path) { return fs::is_regular_file(path) && path.extension() == ".gguf"; }

}  // namespace

ChatTemplate LoadModelChatTemplate(const TokenizerSource& model, const Tokenizer& tokenizer,
                                   const fs::path& tokenizer_override, const fs::path& template_file) {
  if (!template_file.empty()) {
    return ChatTemplate(ReadTextFile(template_file), TokenText(tokenizer, tokenizer.bos_id()),
                        TokenText(tokenizer, tokenizer.eos_id()), template_file.string());
  }
  if (!tokenizer_override.empty()) {
    if (IsGguf(tokenizer_override)) return FromGguf(tokenizer_override, tokenizer);
    const fs::path dir =
        fs::is_directory(tokenizer_override) ? tokenizer_override : tokenizer_override.parent_path();
    return FromDirectory(dir.empty() ? fs::path(".") : dir, tokenizer_override.string());
  }
  if (model.format == ModelFormat::kGguf) return FromGguf(model.path, tokenizer);
  if (model.format == ModelFormat::kLlama2c) {
    throw Error(model.path.string(), "a llama2.c checkpoint has no chat template",
                "give a Jinja template with --chat-template FILE");
  }
  const fs::path dir = fs::is_directory(model.path) ? model.path : model.path.parent_path();
  return FromDirectory(dir.empty() ? fs::path(".") : dir, model.path.string());
}

std::vector<int32_t> EndOfTurnTokens(const Tokenizer& tokenizer, const ChatTemplate& chat) {
  std::vector<int32_t> ids;
  if (tokenizer.eos_id() >= 0) ids.push_back(tokenizer.eos_id());
  std::vector<std::string> texts = {"<|eot_id|>", "<|eom_id|>",    "<|im_end|>",     "<end_of_turn>",
                                    "<|end|>",    "<|endoftext|>", "<|end_of_text|>"};
  if (chat.eos_token()) texts.push_back(*chat.eos_token());
  for (const std::string& text : texts) {
    const std::vector<int32_t> one = tokenizer.Encode(text, EncodeOptions{.parse_special = true});
    if (one.size() == 1 && tokenizer.IsSpecial(one[0]) &&
        std::find(ids.begin(), ids.end(), one[0]) == ids.end()) {
      ids.push_back(one[0]);
    }
  }
  return ids;
}

}  // namespace kvlab
