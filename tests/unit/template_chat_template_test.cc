// ChatTemplate: loading chat templates from tokenizer_config.json in its several shapes (string, named list,
// AddedToken special tokens, chat_template.jinja next to it), the variables a render sees, and messages files.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "kvlab/tokenizer/chat_template.h"
#include "kvlab/util/error.h"
#include "test_assets.h"

namespace kvlab {
namespace {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

fs::path WriteFile(const fs::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

std::string ErrorOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

const ojson kUser = ojson::parse(R"([{"role": "user", "content": "Hi"}])");

TEST(ChatTemplate, StringTemplateAndSpecialTokens) {
  const fs::path dir = test::TempDir("chat_template_string");
  const fs::path config = WriteFile(dir / "tokenizer_config.json", R"({
    "bos_token": {"content": "<s>", "lstrip": false}, "eos_token": "</s>",
    "chat_template": "{{ bos_token }}{% for m in messages %}[{{ m.role }}] {{ m.content }}{% endfor %}{% if add_generation_prompt %}[assistant]{% endif %}{{ eos_token }}"
  })");
  const ChatTemplate t = ChatTemplate::FromTokenizerConfig(config);
  EXPECT_EQ(t.bos_token(), "<s>");
  EXPECT_EQ(t.eos_token(), "</s>");
  EXPECT_EQ(t.origin(), config.string());
  EXPECT_EQ(t.Render(kUser, false), "<s>[user] Hi</s>");
  EXPECT_EQ(t.Render(kUser, true), "<s>[user] Hi[assistant]</s>");
}

TEST(ChatTemplate, VariablesPassedAsTransformersDoes) {
  // tools and documents are None unless given; a null bos_token is not defined at all.
  const ChatTemplate t("{{ tools is none }} {{ documents is none }} {{ bos_token is defined }} {{ eos_token }} "
                       "{{ enable_thinking is defined }} {{ messages|length }}",
                       std::nullopt, "<|im_end|>", "inline");
  EXPECT_EQ(t.Render(kUser, false), "True True False <|im_end|> False 1");
  EXPECT_EQ(t.Render(kUser, false, ojson{{"enable_thinking", false}, {"tools", ojson::array()}}),
            "False True False <|im_end|> True 1");
  // Fields besides role and content reach the template as they are, in their order.
  const ChatTemplate calls("{{ messages[0].tool_calls|tojson }}", "<s>", "</s>", "inline");
  EXPECT_EQ(calls.Render(ojson::parse(R"([{"role": "assistant", "content": null,
                                          "tool_calls": [{"name": "f", "arguments": {"z": 1, "a": 2}}]}])"),
                         false),
            R"([{"name": "f", "arguments": {"z": 1, "a": 2}}])");
}

TEST(ChatTemplate, NamedTemplateList) {
  const fs::path dir = test::TempDir("chat_template_list");
  const fs::path both = WriteFile(dir / "both.json", R"({"chat_template": [
      {"name": "tool_use", "template": "tools"}, {"name": "default", "template": "default {{ messages|length }}"}]})");
  EXPECT_EQ(ChatTemplate::FromTokenizerConfig(both).Render(kUser, false), "default 1");
  const fs::path only = WriteFile(dir / "only.json", R"({"chat_template": [{"name": "rag", "template": "only"}]})");
  EXPECT_EQ(ChatTemplate::FromTokenizerConfig(only).Render(kUser, false), "only");
  const fs::path none = WriteFile(dir / "none.json", R"({"chat_template": [
      {"name": "a", "template": "x"}, {"name": "b", "template": "y"}]})");
  EXPECT_EQ(ErrorOf([&] { ChatTemplate::FromTokenizerConfig(none); }),
            none.string() + ": chat_template has no template named \"default\" (it has: a, b)");
}

TEST(ChatTemplate, JinjaFileNextToTheConfigWins) {
  const fs::path dir = test::TempDir("chat_template_jinja_file");
  const fs::path config = WriteFile(dir / "tokenizer_config.json", R"({"chat_template": "from config"})");
  WriteFile(dir / "chat_template.jinja", "from file {{ messages[0].content }}\n");
  const ChatTemplate t = ChatTemplate::FromTokenizerConfig(config);
  EXPECT_EQ(t.Render(kUser, false), "from file Hi");
  EXPECT_EQ(t.origin(), (dir / "chat_template.jinja").string());
}

TEST(ChatTemplate, LoadErrorsNameTheFile) {
  const fs::path dir = test::TempDir("chat_template_errors");
  const fs::path missing = WriteFile(dir / "missing.json", R"({"bos_token": "<s>"})");
  EXPECT_EQ(ErrorOf([&] { ChatTemplate::FromTokenizerConfig(missing); }),
            missing.string() + ": no chat_template (base models often have none) (hint: pass the template text explicitly)");
  const fs::path bad_token = WriteFile(dir / "bad_token.json", R"({"chat_template": "x", "eos_token": 5})");
  EXPECT_EQ(ErrorOf([&] { ChatTemplate::FromTokenizerConfig(bad_token); }),
            bad_token.string() + ": eos_token should be a string, null or an object with a string \"content\"");
  const fs::path bad_json = WriteFile(dir / "bad.json", "{");
  EXPECT_NE(ErrorOf([&] { ChatTemplate::FromTokenizerConfig(bad_json); }).find(bad_json.string() + ": invalid JSON"),
            std::string::npos);
  const fs::path bad_template = WriteFile(dir / "bad_template.json", R"({"chat_template": "a\n{{ x|nofilter }}"})");
  EXPECT_EQ(ErrorOf([&] { ChatTemplate::FromTokenizerConfig(bad_template); }),
            "chat template (" + bad_template.string() + ") line 2: unknown filter 'nofilter'");
  EXPECT_NE(ErrorOf([&] { ChatTemplate::FromTokenizerConfig(dir / "absent.json"); }).find("absent.json"),
            std::string::npos);
}

TEST(ChatTemplate, RenderErrorsNameTheTemplateLine) {
  const ChatTemplate t("{% for m in messages %}\n{% if m.role != 'user' %}{{ raise_exception('only users') }}{% endif %}{% endfor %}",
                       "<s>", "</s>", "model.gguf: tokenizer.chat_template");
  EXPECT_EQ(t.Render(kUser, false), "");
  EXPECT_EQ(ErrorOf([&] { t.Render(ojson::parse(R"([{"role": "system", "content": "x"}])"), false); }),
            "chat template (model.gguf: tokenizer.chat_template) line 2: only users");
  EXPECT_EQ(ErrorOf([&] { t.Render(ojson::object(), false); }),
            "chat template (model.gguf: tokenizer.chat_template): messages should be a JSON list, got object");
}

TEST(ChatTemplate, MessagesFile) {
  const fs::path dir = test::TempDir("chat_template_messages");
  const fs::path good = WriteFile(dir / "good.json", R"([{"role": "system", "content": "S", "name": "x"},
      {"role": "user", "content": [{"type": "text", "text": "hi"}]}, {"role": "assistant", "content": null}])");
  const ojson messages = ChatTemplate::ParseMessagesFile(good);
  ASSERT_EQ(messages.size(), 3u);
  EXPECT_EQ(messages[0].dump(), R"({"role":"system","content":"S","name":"x"})");
  const std::pair<const char*, std::string> bad[] = {
      {R"({"role": "user"})", ": expected a JSON list of {\"role\", \"content\"} objects"},
      {R"([{"role": "user", "content": "a"}, 3])", ": message 1: expected an object with \"role\" and \"content\""},
      {R"([{"content": "a"}])", ": message 0: \"role\" should be a string"},
      {R"([{"role": "user"}])", ": message 0: missing \"content\""},
      {R"([{"role": "user", "content": 5}])", ": message 0: \"content\" should be a string, a list of parts or null, got number"},
  };
  for (const auto& [text, expected] : bad) {
    const fs::path file = WriteFile(dir / "bad.json", text);
    EXPECT_EQ(ErrorOf([&] { ChatTemplate::ParseMessagesFile(file); }), file.string() + expected) << text;
  }
  EXPECT_EQ(ChatTemplate::ToJson({{"user", "a"}, {"assistant", "b"}}).dump(),
            R"([{"role":"user","content":"a"},{"role":"assistant","content":"b"}])");
}

}  // namespace
}  // namespace kvlab
