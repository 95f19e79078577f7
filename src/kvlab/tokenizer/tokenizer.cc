// Tokenizer::Decode and the factory that finds a model's tokenizer. Format detection looks at content
// (GGUF magic, JSON shape) before names, so a renamed file still loads as what it is.
#include "kvlab/tokenizer/tokenizer.h"

#include <algorithm>
#include <cstring>
#include <fstream>

#include "kvlab/io/gguf.h"
#include "kvlab/tokenizer/char_vocab.h"
#include "kvlab/tokenizer/gguf_vocab.h"
#include "kvlab/tokenizer/gpt2_bpe.h"
#include "kvlab/tokenizer/hf_tokenizer_json.h"
#include "kvlab/tokenizer/json_file.h"
#include "kvlab/tokenizer/sentencepiece_bpe.h"
#include "kvlab/util/error.h"

namespace kvlab {

namespace fs = std::filesystem;

namespace {

// The first bytes of a file (fewer if it is shorter).
std::string Peek(const fs::path& path, size_t n) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path.string(), "cannot open file");
  std::string head(n, '\0');
  in.read(head.data(), static_cast<std::streamsize>(n));
  head.resize(static_cast<size_t>(in.gcount()));
  return head;
}

bool IsJsonStart(const std::string& head) {
  for (char c : head) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    return c == '{' || c == '[';
  }
  return false;
}

// A GPT-2 vocabulary needs its merges next to it: vocab.bpe (OpenAI) or merges.txt (Hugging Face).
std::unique_ptr<Tokenizer> LoadGpt2Pair(const fs::path& vocab_json) {
  const fs::path dir = vocab_json.parent_path();
  for (const char* merges : {"vocab.bpe", "merges.txt"}) {
    if (fs::is_regular_file(dir / merges)) return LoadGpt2Tokenizer(vocab_json, dir / merges);
  }
  throw Error(vocab_json.string(), "is a token->id map but no vocab.bpe or merges.txt is next to it",
              "GPT-2 byte-level BPE needs both the vocabulary and the merges");
}

std::unique_ptr<Tokenizer> LoadJson(const fs::path& path) {
  // Small JSON files are dispatched on their shape; the loaders re-read them (tokenizer files are small).
  const nlohmann::json j = ReadJsonFile(path);
  if (j.is_array()) return LoadCharVocab(path);
  // GPT-2's encoder.json has a token "model" too, so look at the value, not just the key.
  if (j.is_object() && j.contains("model") && j["model"].is_object()) return LoadHfTokenizerJson(path);
  if (j.is_object() && !j.empty() && j.begin()->is_number_integer()) return LoadGpt2Pair(path);
  throw Error(path.string(), "is JSON but not a tokenizer kvlab knows",
              "expected a tokenizer.json (with \"model\"), an encoder.json/vocab.json token->id map, or a "
              "JSON list of characters");
}

// Records each candidate path in `tried` (for the error message) and says whether it exists.
bool Has(const fs::path& dir, const char* name, std::string* tried) {
  *tried += (tried->empty() ? "" : ", ") + (dir / name).string();
  return fs::is_regular_file(dir / name);
}

// A Hugging Face style directory: tokenizer.json, else GPT-2 files, else a vocab.json (map or char list).
std::unique_ptr<Tokenizer> FindHfTokenizer(const fs::path& dir, std::string* tried) {
  if (Has(dir, "tokenizer.json", tried)) return LoadHfTokenizerJson(dir / "tokenizer.json");
  if (Has(dir, "encoder.json", tried)) return LoadGpt2Pair(dir / "encoder.json");
  if (Has(dir, "vocab.json", tried)) return LoadJson(dir / "vocab.json");
  return nullptr;
}

// Next to a llama2.c checkpoint: tokenizer.bin, else tok<N>.bin (llama2.c's name for custom
// vocabularies), preferring N == the model's vocabulary size.
std::unique_ptr<Tokenizer> FindLlama2cTokenizer(const fs::path& dir, int32_t vocab_size, std::string* tried) {
  if (Has(dir, "tokenizer.bin", tried)) return LoadLlama2cTokenizer(dir / "tokenizer.bin");
  *tried += ", " + (dir / "tok*.bin").string();
  std::vector<fs::path> candidates;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && name.size() > 7 && name.rfind("tok", 0) == 0 &&
        name.compare(name.size() - 4, 4, ".bin") == 0) {
      candidates.push_back(entry.path());
    }
  }
  if (candidates.empty()) return nullptr;
  std::sort(candidates.begin(), candidates.end());
  const std::string preferred = "tok" + std::to_string(vocab_size) + ".bin";
  for (const fs::path& p : candidates) {
    if (p.filename() == preferred) return LoadLlama2cTokenizer(p);
  }
  return LoadLlama2cTokenizer(candidates.front());
}

}  // namespace

std::unique_ptr<Tokenizer> LoadTokenizerFile(const fs::path& path) {
  if (fs::is_directory(path)) {
    std::string tried;
    if (auto t = FindHfTokenizer(path, &tried)) return t;
    if (auto t = FindLlama2cTokenizer(path, 0, &tried)) return t;
    throw Error(path.string(), "no tokenizer found (tried " + tried + ")");
  }
  if (!fs::exists(path)) throw Error(path.string(), "no such file");
  const std::string head = Peek(path, 64);
  if (head.size() >= 4 && std::memcmp(head.data(), "GGUF", 4) == 0) {
    return LoadGgufTokenizer(GgufFile::Open(path));
  }
  const std::string name = path.filename().string();
  if (name == "vocab.bpe" || name == "merges.txt") {
    for (const char* vocab : {"encoder.json", "vocab.json"}) {
      if (fs::is_regular_file(path.parent_path() / vocab)) {
        return LoadGpt2Tokenizer(path.parent_path() / vocab, path);
      }
    }
    throw Error(path.string(), "is a merges file but no encoder.json or vocab.json is next to it");
  }
  if (path.extension() == ".json" || IsJsonStart(head)) return LoadJson(path);
  return LoadLlama2cTokenizer(path);  // the one binary format without a magic number
}

std::unique_ptr<Tokenizer> LoadTokenizer(const TokenizerSource& model, const fs::path& override_path) {
  std::unique_ptr<Tokenizer> tokenizer;
  if (!override_path.empty()) {
    tokenizer = LoadTokenizerFile(override_path);
  } else if (model.format == ModelFormat::kGguf) {
    tokenizer = LoadGgufTokenizer(GgufFile::Open(model.path));
  } else {
    const fs::path dir = fs::is_directory(model.path) ? model.path : model.path.parent_path();
    std::string tried;
    const fs::path where = dir.empty() ? fs::path(".") : dir;
    tokenizer = model.format == ModelFormat::kLlama2c
                    ? FindLlama2cTokenizer(where, model.vocab_size, &tried)
                    : FindHfTokenizer(where, &tried);
    if (tokenizer == nullptr) {
      throw Error(model.path.string(), "no tokenizer found next to the model (tried " + tried + ")",
                  "give the tokenizer file explicitly");
    }
  }
  // Ids past the embedding table would index out of bounds; a smaller vocabulary is fine (padded models).
  if (model.vocab_size > 0 && tokenizer->vocab_size() > model.vocab_size) {
    throw Error(override_path.empty() ? model.path.string() : override_path.string(),
                "tokenizer has " + std::to_string(tokenizer->vocab_size()) + " tokens but the model only " +
                    std::to_string(model.vocab_size),
                "the tokenizer does not belong to this model");
  }
  return tokenizer;
}

}  // namespace kvlab
