// kvlab tokenize and --parse-special end to end: the ids printed are the reference's, special-token text
// is a token only when asked, and bad input is a one-line error.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "test_assets.h"

namespace kvlab {
namespace {

using test::AssetsDir;
using test::RunKvlab;
namespace fs = std::filesystem;

using test::Quote;

std::vector<int32_t> ParseIds(const std::string& line) {
  std::istringstream in(line);
  std::vector<int32_t> ids;
  for (int32_t id; in >> id;) ids.push_back(id);
  return ids;
}

// The reference entry of one named string for one tokenizer.
struct Case {
  std::string text;
  nlohmann::json entry;
};
Case ReferenceCase(const std::string& tokenizer, const std::string& name) {
  const auto ref = test::ReadJson(AssetsDir() / "reference" / "tokenizers_reference.json");
  for (const auto& s : ref["strings"]) {
    if (s["name"] == name) {
      return {s["text"].get<std::string>(),
              ref["tokenizers"][tokenizer]["entries"][std::to_string(s["index"].get<int>())]};
    }
  }
  ADD_FAILURE() << "no reference string " << name;
  return {};
}

TEST(TokenizeCli, PrintsTheReferenceIdsWithAndWithoutSpecials) {
  KVLAB_REQUIRE_ASSETS();
  const std::string tok = Quote((AssetsDir() / "tokenizers" / "llama3").string());
  const Case c = ReferenceCase("llama3", "special_llama3");
  auto parsed = RunKvlab("tokenize --tokenizer " + tok + " --parse-special -p " + Quote(c.text));
  ASSERT_EQ(parsed.exit_code, 0) << parsed.err;
  EXPECT_EQ(ParseIds(parsed.out), c.entry["ids"].get<std::vector<int32_t>>());
  auto as_text = RunKvlab("tokenize --tokenizer " + tok + " -p " + Quote(c.text));
  ASSERT_EQ(as_text.exit_code, 0) << as_text.err;
  EXPECT_EQ(ParseIds(as_text.out), c.entry["ids_specials_as_text"].get<std::vector<int32_t>>());

  // Gemma adds <bos> with --specials; --json lists the pieces and the decoded text.
  const Case g = ReferenceCase("gemma3", "hello_world");
  auto json = RunKvlab("tokenize --tokenizer " + Quote((AssetsDir() / "tokenizers" / "gemma3").string()) +
                       " --specials --json -p " + Quote(g.text));
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const auto j = nlohmann::json::parse(json.out);
  EXPECT_EQ(j["ids"], g.entry["ids_add_special"]);
  EXPECT_EQ(j["pieces"].size(), j["ids"].size());
  EXPECT_EQ(j["pieces"][0], "<bos>");
  EXPECT_EQ(j["decoded"], "<bos>" + g.text);
  EXPECT_EQ(j["count"], j["ids"].size());
}

TEST(TokenizeCli, ReadsAFileAndAModelsOwnTokenizer) {
  KVLAB_REQUIRE_ASSETS();
  const fs::path file = test::TempDir("tokenize-file") / "prompt.txt";
  std::ofstream(file) << "Once upon a time";
  auto from_file = RunKvlab("tokenize -m tinystories-656k --file " + Quote(file.string()));
  auto from_prompt = RunKvlab("tokenize -m tinystories-656k -p 'Once upon a time'");
  ASSERT_EQ(from_file.exit_code, 0) << from_file.err;
  EXPECT_EQ(from_file.out, from_prompt.out);
  EXPECT_FALSE(ParseIds(from_file.out).empty());
}

TEST(TokenizeCli, BadInputIsAOneLineError) {
  KVLAB_REQUIRE_ASSETS();
  auto neither = RunKvlab("tokenize -m tinystories-656k");
  EXPECT_NE(neither.exit_code, 0);
  EXPECT_NE(neither.err.find("-p/--file"), std::string::npos) << neither.err;
  const fs::path bad = test::TempDir("tokenize-bad") / "tokenizer.json";
  std::ofstream(bad) << R"({"model": {"type": "WordPiece", "vocab": {}}})";
  auto r = RunKvlab("tokenize --tokenizer " + Quote(bad.string()) + " -p hi");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find("tokenizer.json"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("WordPiece"), std::string::npos) << r.err;
}

// generate echoes the prompt as the tokenizer saw it: a parsed special token prints nothing, the same text
// left as text prints itself.
TEST(TokenizeCli, GenerateParsesSpecialTextOnlyWhenAsked) {
  KVLAB_REQUIRE_ASSETS();
  const std::string cmd = "generate -m tinystories-656k -n 0 -t 1 -p 'The end.<|end_story|>'";
  auto as_text = RunKvlab(cmd);
  ASSERT_EQ(as_text.exit_code, 0) << as_text.err;
  EXPECT_NE(as_text.out.find("<|end_story|>"), std::string::npos) << as_text.out;
  auto parsed = RunKvlab(cmd + " --parse-special");
  ASSERT_EQ(parsed.exit_code, 0) << parsed.err;
  EXPECT_EQ(parsed.out.find("<|end_story|>"), std::string::npos) << parsed.out;
  EXPECT_NE(parsed.out.find("The end."), std::string::npos) << parsed.out;
}

}  // namespace
}  // namespace kvlab
