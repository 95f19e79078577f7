// The tokenizer.json files of today's families (Llama 3, Qwen3, Gemma 3) and the shared TinyStories/GPT-2
// vocabularies against reference/tokenizers_reference.json: ids, pieces and decodings that an independent
// implementation (transformers.js's tokenizers) gives for hard strings, with and without special tokens
// added, with special-token text parsed and left as text. Where that library is known to differ from
// Hugging Face tokenizers (Rust), an entry carries hf_tokenizers_expected, which kvlab matches instead.
#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "kvlab/tokenizer/tokenizer.h"
#include "test_assets.h"

namespace kvlab {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test::AssetsDir;

const json& Reference() {
  static const json reference = test::ReadJson(AssetsDir() / "reference" / "tokenizers_reference.json");
  return reference;
}

fs::path TokenizerPath(const std::string& name) {
  if (name == "tinystories-656k") return AssetsDir() / "models" / "tinystories-656k" / "tokenizer.json";
  if (name == "gpt2") return AssetsDir() / "tokenizers" / "gpt2";
  return AssetsDir() / "tokenizers" / name / "tokenizer.json";
}

std::string Show(const std::vector<int32_t>& ids) {
  std::string s = "[";
  for (size_t i = 0; i < ids.size(); ++i) s += (i ? " " : "") + std::to_string(ids[i]);
  return s + "]";
}

class TokenizerReference : public ::testing::TestWithParam<std::string> {};

TEST_P(TokenizerReference, MatchesEveryIdPieceAndDecoding) {
  KVLAB_REQUIRE_ASSETS();
  const std::string name = GetParam();
  const json& ref = Reference()["tokenizers"][name];
  const std::unique_ptr<Tokenizer> tok = LoadTokenizerFile(TokenizerPath(name));
  EXPECT_EQ(tok->clean_up_spaces_default(), ref["clean_up_tokenization_spaces"].get<bool>());
  if (ref["bos_token_id"].is_number()) {
    EXPECT_EQ(tok->bos_id(), ref["bos_token_id"].get<int32_t>());
  }
  if (ref["eos_token_id"].is_number()) {
    EXPECT_EQ(tok->eos_id(), ref["eos_token_id"].get<int32_t>());
  }

  std::map<std::string, int> checked, failed;  // field -> count
  auto check = [&](const std::string& field, const std::string& what, bool ok) {
    ++checked[field];
    if (!ok) {
      ++failed[field];
      ADD_FAILURE() << name << " " << field << ": " << what;
    }
  };
  for (const json& s : Reference()["strings"]) {
    const std::string index = std::to_string(s["index"].get<int>());
    const std::string text = s["text"].get<std::string>();
    const std::string label = "string " + index + " (" + s["name"].get<std::string>() + ")";
    const json& e = ref["entries"][index];
    const bool diverges = e.contains("hf_tokenizers_expected");
    const json& expected = diverges ? e["hf_tokenizers_expected"] : e;

    auto ids_check = [&](const std::string& field, const std::vector<int32_t>& want, EncodeOptions options) {
      const std::vector<int32_t> got = tok->Encode(text, options);
      check(field, label + ": got " + Show(got) + ", want " + Show(want), got == want);
      return got;
    };
    const auto ids = expected["ids"].get<std::vector<int32_t>>();
    ids_check("ids", ids, {.add_special = false, .parse_special = true});
    ids_check("ids_add_special", expected["ids_add_special"].get<std::vector<int32_t>>(),
              {.add_special = true, .parse_special = true});
    if (e.contains("ids_specials_as_text")) {
      ids_check("ids_specials_as_text", e["ids_specials_as_text"].get<std::vector<int32_t>>(),
                {.add_special = false, .parse_special = false});
      ids_check("ids_specials_as_text_add_special",
                e["ids_specials_as_text_add_special"].get<std::vector<int32_t>>(),
                {.add_special = true, .parse_special = false});
    }
    if (diverges) continue;  // the library's own pieces and decodings belong to its ids

    std::vector<std::string> pieces;
    for (int32_t id : ids) pieces.emplace_back(tok->Piece(id));
    check("tokens", label, json(pieces) == e["tokens"]);
    auto decode_check = [&](const std::string& field, const json& id_list, DecodeOptions options) {
      const std::string got = tok->Decode(id_list.get<std::vector<int32_t>>(), options);
      check(field, label + ": got " + json(got).dump() + ", want " + e[field].dump(), got == e[field]);
    };
    decode_check("decoded", e["ids"], {.skip_special = false});
    decode_check("decoded_add_special", e["ids_add_special"], {.skip_special = false});
    decode_check("decoded_config_cleanup", e["ids"],
                 {.skip_special = false, .clean_up_spaces = tok->clean_up_spaces_default()});
    if (e.contains("decoded_specials_as_text")) {
      decode_check("decoded_specials_as_text", e["ids_specials_as_text"], {.skip_special = false});
    }
  }
  for (const auto& [field, n] : checked) {
    std::cout << "[ reference ] " << name << " " << field << ": " << n - failed[field] << "/" << n
              << " match\n";
  }
}

INSTANTIATE_TEST_SUITE_P(Families, TokenizerReference,
                         ::testing::Values("llama3", "qwen3", "gemma3", "tinystories-656k", "gpt2"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           return n;
                         });

// Decoding skips special tokens by default, and the shorthand Encode leaves special-token text as text.
TEST(TokenizerReference, SpecialTextIsParsedOnlyWhenAsked) {
  KVLAB_REQUIRE_ASSETS();
  const auto tok = LoadTokenizerFile(TokenizerPath("llama3"));
  const std::string text = "<|begin_of_text|>Hello<|eot_id|>";
  EXPECT_EQ(tok->Encode(text, EncodeOptions{.parse_special = true}),
            (std::vector<int32_t>{128000, 9906, 128009}));
  const std::vector<int32_t> as_text = tok->Encode(text, false);
  EXPECT_GT(as_text.size(), 3u);
  for (int32_t id : as_text) EXPECT_FALSE(tok->IsSpecial(id)) << id;
  EXPECT_TRUE(tok->IsSpecial(128009));
  EXPECT_EQ(tok->Decode({128000, 9906, 128009}), "Hello");
  EXPECT_EQ(tok->Decode(as_text), text);
}

}  // namespace
}  // namespace kvlab
