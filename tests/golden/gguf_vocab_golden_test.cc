// kvlab convert writes the tokenizer.json of today's families (Llama 3, Qwen3, Gemma 3) into the GGUF as a
// vocabulary, and the GGUF's tokenizer gives back what tokenizer.json gives: the same ids for every string of
// reference/tokenizers_reference.json with and without special tokens added and with special-token text
// parsed or left as text, the same decodings, the same bos/eos, and the chat template unchanged.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "kvlab/io/gguf.h"
#include "kvlab/model/presets.h"
#include "kvlab/model/random_model.h"
#include "kvlab/tokenizer/tokenizer.h"
#include "test_assets.h"

namespace kvlab {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test::AssetsDir;

struct Family {
  const char* name;    // shared/tokenizers/<name>
  const char* preset;  // kvlab init preset of the same family, shrunk below
  const char* model;   // tokenizer.ggml.model expected
  const char* pre;     // tokenizer.ggml.pre expected ("" for none)
};

const Family kFamilies[] = {
    {"llama3", "llama3-tiny", "gpt2", "llama-bpe"},
    {"qwen3", "qwen3-tiny", "gpt2", "qwen2"},
    {"gemma3", "gemma3-tiny", "llama", ""},
};

std::string Quoted(const fs::path& p) { return "'" + p.string() + "'"; }

std::string Show(const std::vector<int32_t>& ids) {
  std::string s = "[";
  for (size_t i = 0; i < ids.size(); ++i) s += (i ? " " : "") + std::to_string(ids[i]);
  return s + "]";
}

// A random model of the family whose embedding has exactly one row per token (Gemma 3: 262145), tiny
// otherwise so that even Gemma's file stays a few MB; its directory holds the family's tokenizer files,
// and kvlab convert turns it into <dir>/model.gguf.
fs::path ConvertedFamily(const Family& f) {
  static std::map<std::string, fs::path> done;
  if (auto it = done.find(f.name); it != done.end()) return it->second;
  const fs::path tokenizers = AssetsDir() / "tokenizers" / f.name;
  const json tokenizer_json = test::ReadJson(tokenizers / "tokenizer.json");
  int32_t n = 0;
  for (const auto& [token, id] : tokenizer_json["model"]["vocab"].items()) n = std::max(n, id.get<int32_t>() + 1);
  for (const json& a : tokenizer_json["added_tokens"]) n = std::max(n, a["id"].get<int32_t>() + 1);

  ModelConfig c = FindModelPreset(f.preset).config;
  c.dim = 16;
  c.n_layers = 1;
  c.n_heads = 2;
  c.n_kv_heads = 1;
  c.head_dim = 8;
  c.ffn_dim = 16;
  c.vocab_size = n;
  if (!c.layer_window.empty()) c.layer_window.resize(1);
  if (c.embed_scale != 1.0f) c.embed_scale = std::sqrt(static_cast<float>(c.dim));  // Gemma's sqrt(dim)
  const std::unique_ptr<Tokenizer> hf = LoadTokenizerFile(tokenizers / "tokenizer.json");
  c.bos_id = hf->bos_id();  // config.json's ids, as the released configs have them
  c.eos_id = hf->eos_id();
  const fs::path dir = test::TempDir(std::string("gguf-vocab-") + f.name);
  RandomModelOptions o;
  o.dtype = DType::kBF16;
  WriteRandomModel(c, dir, o);
  fs::copy_file(tokenizers / "tokenizer.json", dir / "tokenizer.json");
  fs::copy_file(tokenizers / "tokenizer_config.json", dir / "tokenizer_config.json");
  const auto r = test::RunKvlab("convert " + Quoted(dir) + " -o " + Quoted(dir / "model.gguf") + " --type bf16");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("vocabulary: tokenizer.ggml.model " + std::string(f.model)), std::string::npos) << r.out;
  return done[f.name] = dir;
}

class GgufVocabGolden : public ::testing::TestWithParam<Family> {};

TEST_P(GgufVocabGolden, ReadsBackTheIdsOfTokenizerJson) {
  KVLAB_REQUIRE_ASSETS();
  const Family& f = GetParam();
  const fs::path dir = ConvertedFamily(f);
  const GgufFile gguf = GgufFile::Open(dir / "model.gguf");
  EXPECT_EQ(gguf.GetString("tokenizer.ggml.model"), f.model);
  EXPECT_EQ(gguf.FindString("tokenizer.ggml.pre").value_or(""), f.pre);
  const json config = test::ReadJson(dir / "tokenizer_config.json");
  EXPECT_EQ(gguf.GetString("tokenizer.chat_template"), config["chat_template"].get<std::string>());

  const std::unique_ptr<Tokenizer> hf = LoadTokenizerFile(dir / "tokenizer.json");
  const std::unique_ptr<Tokenizer> tok = LoadTokenizerFile(dir / "model.gguf");
  EXPECT_EQ(tok->vocab_size(), hf->vocab_size());
  EXPECT_EQ(tok->bos_id(), hf->bos_id());
  EXPECT_EQ(tok->eos_id(), hf->eos_id());

  const json& reference = test::ReadJson(AssetsDir() / "reference" / "tokenizers_reference.json");
  const json& entries = reference["tokenizers"][f.name]["entries"];
  std::map<std::string, int> checked, failed;
  auto check = [&](const std::string& field, bool ok, const std::string& what) {
    ++checked[field];
    if (!ok) {
      ++failed[field];
      ADD_FAILURE() << f.name << " " << field << ": " << what;
    }
  };
  for (const json& s : reference["strings"]) {
    const std::string index = std::to_string(s["index"].get<int>());
    const std::string text = s["text"].get<std::string>();
    const std::string label = "string " + index + " (" + s["name"].get<std::string>() + ")";
    for (bool parse_special : {true, false}) {
      for (bool add_special : {false, true}) {
        const EncodeOptions options{.add_special = add_special, .parse_special = parse_special};
        const std::vector<int32_t> want = hf->Encode(text, options), got = tok->Encode(text, options);
        const std::string field = std::string(parse_special ? "ids" : "ids_specials_as_text") +
                                  (add_special ? "_add_special" : "");
        check(field, got == want, label + ": got " + Show(got) + ", want " + Show(want));
        const json& e = entries[index].contains("hf_tokenizers_expected") ? entries[index]["hf_tokenizers_expected"]
                                                                        : entries[index];
        if (e.contains(field)) {
          check(field + " (reference)", got == e[field].get<std::vector<int32_t>>(), label + ": got " + Show(got));
        }
        for (bool skip_special : {false, true}) {
          const DecodeOptions d{.skip_special = skip_special};
          const std::string want_text = hf->Decode(want, d), got_text = tok->Decode(want, d);
          check(skip_special ? "decoded_skip_special" : "decoded", got_text == want_text,
                label + ": got " + json(got_text).dump() + ", want " + json(want_text).dump());
        }
      }
    }
  }
  for (const auto& [field, n] : checked) {
    std::cout << "[ gguf vocab ] " << f.name << " " << field << ": " << n - failed[field] << "/" << n << " match\n";
  }
}

INSTANTIATE_TEST_SUITE_P(Families, GgufVocabGolden, ::testing::ValuesIn(kFamilies),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace kvlab
