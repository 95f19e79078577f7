// kvlab generate --chat end to end, on a model directory made the way a user would make one to try a real
// tokenizer: `kvlab init --vocab-size` of the tokenizer's size, plus the real tokenizer.json and
// tokenizer_config.json. The prompt is the reference rendering's token count, and bad chat input is a
// one-line error.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "test_assets.h"

namespace kvlab {
namespace {

using test::AssetsDir;
using test::RunKvlab;
namespace fs = std::filesystem;

using test::Quote;

// A random-weight qwen3-tiny with Qwen3's 151669-token vocabulary and its real tokenizer files.
fs::path Qwen3ChatModel() {
  static const fs::path dir = [] {
    const fs::path d = test::TempDir("chat-qwen3");
    const auto r =
        RunKvlab("init --preset qwen3-tiny --vocab-size 151669 --dtype bf16 --force --out " + Quote(d));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    for (const char* f : {"tokenizer.json", "tokenizer_config.json"}) {
      fs::copy_file(AssetsDir() / "tokenizers" / "qwen3" / f, d / f, fs::copy_options::overwrite_existing);
    }
    return d;
  }();
  return dir;
}

// The reference's rendered_ids count for one qwen3 conversation with the generation prompt.
size_t ReferencePromptTokens(const std::string& conversation) {
  const auto ref = test::ReadJson(AssetsDir() / "reference" / "chat_templates_reference.json");
  for (const auto& r : ref["templates"]["qwen3"]["renders"]) {
    if (r["conversation"] == conversation && r["add_generation_prompt"] == true &&
        !r.contains("extra_variables")) {
      return r["rendered_ids"].size();
    }
  }
  ADD_FAILURE() << "no reference render for " << conversation;
  return 0;
}

nlohmann::json Conversation(const std::string& name) {
  const auto ref = test::ReadJson(AssetsDir() / "reference" / "chat_templates_reference.json");
  for (const auto& c : ref["conversations"]) {
    if (c["name"] == name) return c["messages"];
  }
  ADD_FAILURE() << "no conversation " << name;
  return {};
}

std::string PromptTokensLine(size_t n) { return "[kvlab] " + std::to_string(n) + " prompt tokens"; }

TEST(ChatCli, GenerateRendersTheModelsTemplate) {
  KVLAB_REQUIRE_ASSETS();
  const fs::path model = Qwen3ChatModel();
  auto r = RunKvlab("generate -m " + Quote(model) + " --chat -p 'Hello, how are you?' -n 3 --temp 0 -t 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find(PromptTokensLine(ReferencePromptTokens("single_user"))), std::string::npos) << r.err;
  // The echo is the prompt as decoded: the template's roles and the message, its control tokens silent.
  EXPECT_EQ(r.out.rfind("user\nHello, how are you?\nassistant\n", 0), 0u) << r.out;

  // --messages FILE, the same conversation as the reference's.
  const fs::path messages = test::TempDir("chat-messages") / "conversation.json";
  std::ofstream(messages) << Conversation("system_user_assistant_user").dump();
  auto m = RunKvlab("generate -m " + Quote(model) + " --chat --messages " + Quote(messages) +
                    " -n 1 --temp 0 -t 1");
  ASSERT_EQ(m.exit_code, 0) << m.err;
  EXPECT_NE(m.err.find(PromptTokensLine(ReferencePromptTokens("system_user_assistant_user"))),
            std::string::npos)
      << m.err;

  // --system puts a system turn first.
  auto s = RunKvlab("generate -m " + Quote(model) + " --chat --system 'Be brief.' -p Hi -n 1 --temp 0 -t 1");
  ASSERT_EQ(s.exit_code, 0) << s.err;
  EXPECT_EQ(s.out.rfind("system\nBe brief.\nuser\nHi\nassistant\n", 0), 0u) << s.out;
}

TEST(ChatCli, BadChatInputIsAOneLineError) {
  KVLAB_REQUIRE_ASSETS();
  auto expect_error = [](const test::CommandResult& r, const std::string& needle) {
    EXPECT_NE(r.exit_code, 0);
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
  };
  expect_error(RunKvlab("generate -m tinystories-656k --system hi -n 1"), "--system");
  // A base model's tokenizer_config.json without a chat_template.
  expect_error(RunKvlab("generate -m tinystories-656k --chat -p hi -n 1"), "chat_template");
  const fs::path model = Qwen3ChatModel();
  const fs::path bad = test::TempDir("chat-bad") / "messages.json";
  std::ofstream(bad) << R"([{"role": "user", "content": "hi"}, {"content": "no role"}])";
  expect_error(RunKvlab("generate -m " + Quote(model) + " --chat --messages " + Quote(bad) + " -n 1"),
               "message 1");
  const fs::path tpl = test::TempDir("chat-bad-template") / "t.jinja";
  std::ofstream(tpl) << "{% for m in messages %}{{ m.content | nosuchfilter }}{% endfor %}";
  expect_error(
      RunKvlab("generate -m " + Quote(model) + " --chat -p hi --chat-template " + Quote(tpl) + " -n 1"),
      "nosuchfilter");
}

}  // namespace
}  // namespace kvlab
