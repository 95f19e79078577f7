// libFuzzer target: any bytes as a chat template (src/kvlab/template/) must parse and render against a fixed
// conversation, or fail with a kvlab::Error; never a crash, a hang, unbounded memory or another exception.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <nlohmann/json.hpp>

#include "kvlab/template/jinja.h"
#include "kvlab/util/error.h"

namespace {

const nlohmann::ordered_json& Variables() {
  static const nlohmann::ordered_json vars = nlohmann::ordered_json::parse(R"({
    "messages": [
      {"role": "system", "content": "You are a helpful assistant."},
      {"role": "user", "content": "What is the weather in Paris? \u00e9\u00e8 \ud83d\ude00"},
      {"role": "assistant", "content": "<think>\nlook it up\n</think>\n\n", "reasoning_content": null,
       "tool_calls": [{"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
      {"role": "tool", "content": "{\"temperature\": 21.5}"},
      {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": " thanks "}]}
    ],
    "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Current weather",
      "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}],
    "documents": null, "add_generation_prompt": true, "bos_token": "<s>", "eos_token": "</s>",
    "enable_thinking": false
  })");
  return vars;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const kvlab::jinja::Template t(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz");
    (void)t.Render(Variables());
  } catch (const kvlab::Error&) {
  }
  return 0;
}
