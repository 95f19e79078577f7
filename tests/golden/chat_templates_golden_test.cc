// The real chat templates of llama3, qwen3 and gemma3 (../shared/tokenizers/<name>/tokenizer_config.json)
// rendered by kvlab's Jinja interpreter, byte for byte against
// ../shared/reference/chat_templates_reference.json (rendered by @huggingface/jinja and cross-checked with
// Python jinja2 as transformers configures it), and the rendered text tokenized as
// apply_chat_template(tokenize=True) does (special-token text parsed, nothing added) into the reference's
// rendered_ids.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "kvlab/tokenizer/chat_template.h"
#include "kvlab/tokenizer/tokenizer.h"
#include "kvlab/util/error.h"
#include "test_assets.h"

namespace kvlab {
namespace {

using ojson = nlohmann::ordered_json;

std::filesystem::path ConfigOf(const std::string& name) {
  return test::AssetsDir() / "tokenizers" / name / "tokenizer_config.json";
}

TEST(ChatTemplateGolden, RendersMatchReference) {
  KVLAB_REQUIRE_ASSETS();
  const nlohmann::json reference =
      test::ReadJson(test::AssetsDir() / "reference" / "chat_templates_reference.json");
  std::map<std::string, ojson> conversations;
  for (const auto& c : reference.at("conversations")) conversations[c.at("name")] = c.at("messages");
  int renders = 0;
  for (const char* name : {"llama3", "qwen3", "gemma3"}) {
    SCOPED_TRACE(name);
    const nlohmann::json& expected = reference.at("templates").at(name);
    const ChatTemplate t = ChatTemplate::FromTokenizerConfig(ConfigOf(name));
    const auto tokenizer = LoadTokenizerFile(test::AssetsDir() / "tokenizers" / name / "tokenizer.json");
    EXPECT_EQ(t.source(), expected.at("chat_template").get<std::string>());
    for (const auto& r : expected.at("renders")) {
      const std::string conversation = r.at("conversation");
      const bool add_generation_prompt = r.at("add_generation_prompt");
      const ojson extra = r.contains("extra_variables") ? ojson(r.at("extra_variables")) : ojson::object();
      SCOPED_TRACE(conversation + (add_generation_prompt ? " +generation prompt " : " ") + extra.dump());
      const std::string rendered = t.Render(conversations.at(conversation), add_generation_prompt, extra);
      EXPECT_EQ(rendered, r.at("rendered").get<std::string>());
      EXPECT_EQ(tokenizer->Encode(rendered, EncodeOptions{.add_special = false, .parse_special = true}),
                r.at("rendered_ids").get<std::vector<int32_t>>());
      ++renders;
    }
  }
  EXPECT_EQ(renders, 20);
}

TEST(ChatTemplateGolden, Gemma3RejectsRolesThatDoNotAlternate) {
  KVLAB_REQUIRE_ASSETS();
  const ChatTemplate t = ChatTemplate::FromTokenizerConfig(ConfigOf("gemma3"));
  const ojson two_users =
      ojson::parse(R"([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}])");
  try {
    t.Render(two_users, true);
    FAIL() << "expected gemma3's alternation error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "chat template (" + ConfigOf("gemma3").string() +
                  ") line 19: Conversation roles must alternate user/assistant/user/assistant/...");
  }
}

TEST(ChatTemplateGolden, Qwen3ToolCallsAndThinking) {
  KVLAB_REQUIRE_ASSETS();
  // A tool-calling conversation through qwen3's template (tools list, tool_calls with a dict of arguments,
  // tool responses, reasoning_content, enable_thinking=false), recorded from Python jinja2 as transformers
  // runs it.
  const ChatTemplate t = ChatTemplate::FromTokenizerConfig(ConfigOf("qwen3"));
  const ojson messages = ojson::parse(R"([
    {"role": "system", "content": "sys"}, {"role": "user", "content": "weather?"},
    {"role": "assistant", "content": "<think>\nhmm\n</think>\n\nCalling",
     "tool_calls": [{"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris", "units": "c"}}}]},
    {"role": "tool", "content": "{\"t\": 20}"}, {"role": "tool", "content": "more"},
    {"role": "assistant", "content": "It is 20", "reasoning_content": "r"}, {"role": "user", "content": "thanks ünïcode"}])");
  const ojson extra = ojson::parse(R"({"enable_thinking": false, "tools": [{"type": "function", "function": {
    "name": "get_weather", "description": "Get weather", "parameters": {"type": "object",
    "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]})");
  EXPECT_EQ(t.Render(messages, true, extra),
            "<|im_start|>system\n"
            "sys\n"
            "\n"
            "# Tools\n"
            "\n"
            "You may call one or more functions to assist with the user query.\n"
            "\n"
            "You are provided with function signatures within <tools></tools> XML tags:\n"
            "<tools>\n"
            "{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Get "
            "weather\", \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": "
            "\"string\"}}, \"required\": [\"city\"]}}}\n"
            "</tools>\n"
            "\n"
            "For each function call, return a json object with function name and arguments within "
            "<tool_call></tool_call> XML tags:\n"
            "<tool_call>\n"
            "{\"name\": <function-name>, \"arguments\": <args-json-object>}\n"
            "</tool_call><|im_end|>\n"
            "<|im_start|>user\n"
            "weather?<|im_end|>\n"
            "<|im_start|>assistant\n"
            "Calling\n"
            "<tool_call>\n"
            "{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"units\": \"c\"}}\n"
            "</tool_call><|im_end|>\n"
            "<|im_start|>user\n"
            "<tool_response>\n"
            "{\"t\": 20}\n"
            "</tool_response>\n"
            "<tool_response>\n"
            "more\n"
            "</tool_response><|im_end|>\n"
            "<|im_start|>assistant\n"
            "It is 20<|im_end|>\n"
            "<|im_start|>user\n"
            "thanks ünïcode<|im_end|>\n"
            "<|im_start|>assistant\n"
            "<think>\n"
            "\n"
            "</think>\n"
            "\n");
}

}  // namespace
}  // namespace kvlab
