#include "kvlab/tokenizer/gguf_vocab_writer.h"

#include <algorithm>
#include <unordered_map>
#include <utility>
#include <vector>

#include "kvlab/tokenizer/gguf_pre_tokenizers.h"
#include "kvlab/tokenizer/gpt2_bpe.h"
#include "kvlab/tokenizer/json_file.h"
#include "kvlab/util/error.h"
#include "kvlab/util/mapped_file.h"

namespace kvlab {
namespace {

using nlohmann::json;

// GGUF tokenizer.ggml.token_type values.
constexpr int32_t kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6;
constexpr const char* kSpaceMarker = "\u2581";

struct HfAdded {
  std::string content;
  int32_t id;
  bool special;
};

// The parts of tokenizer.json and tokenizer_config.json a GGUF vocabulary is made of.
struct HfVocab {
  std::string where;  // tokenizer.json's path, for messages
  json model;         // tokenizer.json "model"
  std::vector<HfAdded> added;
  json config;  // tokenizer_config.json, or an empty object
  std::vector<std::string> tokens;
  std::vector<int32_t> types;
};

std::string Compact(const json& j) {
  std::string s = j.dump();
  return s.size() > 160 ? s.substr(0, 157) + "..." : s;
}

// A token named in tokenizer_config.json: "<bos>" or {"content": "<bos>", ...}; "" when absent or null.
std::string ConfigToken(const json& config, const std::string& key) {
  auto it = config.find(key);
  if (it == config.end()) return {};
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) return (*it)["content"].get<std::string>();
  return {};
}

// Every id, added tokens included; ids nobody uses are "[PAD<id>]" (unused), as llama.cpp's converter pads.
void CollectTokens(HfVocab& v, int32_t model_vocab_size) {
  const json& vocab = JsonMember(v.model, "vocab", v.where + ": model");
  if (!vocab.is_object()) throw Error(v.where, "model.vocab should be an object of token -> id");
  int64_t max_id = -1;
  for (const auto& [token, id] : vocab.items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= (int64_t{1} << 24)) {
      throw Error(v.where, "model.vocab token \"" + token + "\" has id " + id.dump() + ", expected a small id");
    }
    max_id = std::max(max_id, id.get<int64_t>());
  }
  for (const HfAdded& a : v.added) max_id = std::max<int64_t>(max_id, a.id);
  if (model_vocab_size > 0 && max_id >= model_vocab_size) {
    throw Error(v.where, "token id " + std::to_string(max_id) + " is beyond the model's vocab_size " +
                             std::to_string(model_vocab_size),
                "the embedding must have a row for every token");
  }
  const size_t n = static_cast<size_t>(std::max<int64_t>(max_id + 1, model_vocab_size));
  v.tokens.resize(n);
  v.types.assign(n, kUnused);
  for (size_t id = 0; id < n; ++id) v.tokens[id] = "[PAD" + std::to_string(id) + "]";
  for (const auto& [token, id] : vocab.items()) {
    v.tokens[id.get<size_t>()] = token;
    v.types[id.get<size_t>()] = kNormal;
  }
  for (const HfAdded& a : v.added) {
    v.tokens[a.id] = a.content;
    v.types[a.id] = a.special ? kControl : kUserDefined;
  }
}

// tokenizer.json's merges, "left right" strings (older files) or [left, right] pairs (transformers >= 4.45).
std::vector<std::pair<std::string, std::string>> Merges(const HfVocab& v) {
  std::vector<std::pair<std::string, std::string>> out;
  auto it = v.model.find("merges");
  if (it == v.model.end()) return out;
  if (!it->is_array()) throw Error(v.where, "model.merges should be an array");
  out.reserve(it->size());
  for (size_t i = 0; i < it->size(); ++i) {
    const json& m = (*it)[i];
    std::pair<std::string, std::string> pair;
    if (m.is_string() && SplitMergeLine(m.get<std::string>(), &pair)) {
      out.push_back(std::move(pair));
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      out.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
    } else {
      throw Error(v.where, "model.merges[" + std::to_string(i) + "] is " + Compact(m) +
                               ", expected \"left right\" or [left, right]");
    }
  }
  return out;
}

// ---- special tokens (gguf-py's SpecialVocab) ---------------------------------------------------------------

struct SpecialIds {
  int32_t bos = -1, eos = -1, unk = -1, pad = -1;
  bool add_bos = false, add_eos = false;
};

// What the post-processor puts around a text: a leading special token is BOS, a trailing one EOS.
void ReadPostProcessor(const json& post, std::string* first, std::string* last, bool* roberta) {
  if (!post.is_object()) return;
  const std::string type = post.value("type", "");
  if (type == "Sequence" && post.contains("processors") && post["processors"].is_array()) {
    for (const json& p : post["processors"]) ReadPostProcessor(p, first, last, roberta);
  } else if (type == "TemplateProcessing" && post.contains("single") && post["single"].is_array()) {
    const json& single = post["single"];
    if (single.size() > 1 && single.front().contains("SpecialToken")) *first = single.front()["SpecialToken"].value("id", "");
    if (single.size() > 1 && single.back().contains("SpecialToken")) *last = single.back()["SpecialToken"].value("id", "");
  } else if (type == "RobertaProcessing" || type == "BertProcessing") {
    *roberta = true;
  }
}

SpecialIds FindSpecialIds(const HfVocab& v, const json& tokenizer_json, const GgufVocabDefaults& d) {
  // As SpecialVocab: tokenizer_config.json names the tokens, looked up among the added tokens; config.json's
  // ids fill in what it leaves out.
  auto added_id = [&](const std::string& content) {
    if (content.empty()) return int32_t{-1};
    for (const HfAdded& a : v.added) {
      if (a.content == content) return a.id;
    }
    return int32_t{-1};
  };
  std::string first, last;
  bool roberta = false;
  if (tokenizer_json.contains("post_processor")) ReadPostProcessor(tokenizer_json["post_processor"], &first, &last, &roberta);
  SpecialIds s;
  const std::string bos = ConfigToken(v.config, "bos_token"), eos = ConfigToken(v.config, "eos_token");
  s.bos = added_id(bos.empty() ? first : bos);
  s.eos = added_id(eos.empty() ? last : eos);
  s.unk = added_id(ConfigToken(v.config, "unk_token"));
  s.pad = added_id(ConfigToken(v.config, "pad_token"));
  if (s.bos < 0) s.bos = d.bos_id;
  if (s.eos < 0) s.eos = d.eos_id;
  // Written either way, so that the file encodes as tokenizer.json does whatever llama.cpp's default for the
  // vocabulary type is (the early Llama 3 tokenizer.json adds no BOS; llama.cpp's llama-bpe default does).
  s.add_bos = roberta || !first.empty();
  s.add_eos = roberta || !last.empty();
  if (auto it = v.config.find("add_bos_token"); it != v.config.end() && it->is_boolean()) s.add_bos = *it;
  if (auto it = v.config.find("add_eos_token"); it != v.config.end() && it->is_boolean()) s.add_eos = *it;
  return s;
}

void WriteSpecialIds(GgufWriter& w, const SpecialIds& s, size_t n) {
  auto id = [&](const char* key, int32_t value) {
    if (value >= 0 && static_cast<size_t>(value) < n) w.SetU32(key, static_cast<uint32_t>(value));
  };
  id("tokenizer.ggml.bos_token_id", s.bos);
  id("tokenizer.ggml.eos_token_id", s.eos);
  id("tokenizer.ggml.unknown_token_id", s.unk);
  id("tokenizer.ggml.padding_token_id", s.pad);
  w.SetBool("tokenizer.ggml.add_bos_token", s.add_bos);
  w.SetBool("tokenizer.ggml.add_eos_token", s.add_eos);
}

// tokenizer_config.json's chat_template (a string, or named templates), else chat_template.jinja.
bool WriteChatTemplate(GgufWriter& w, const HfVocab& v, const std::filesystem::path& hf_dir) {
  auto it = v.config.find("chat_template");
  if (it != v.config.end() && it->is_string()) {
    w.SetString("tokenizer.chat_template", it->get<std::string>());
    return true;
  }
  if (it != v.config.end() && it->is_array()) {
    for (const json& t : *it) {
      if (!t.is_object() || !t.contains("name") || !t.contains("template") || !t["name"].is_string() ||
          !t["template"].is_string()) {
        throw Error(v.where, "chat_template entry " + Compact(t) + " is not {\"name\", \"template\"}");
      }
      const std::string name = t["name"].get<std::string>();
      w.SetString(name == "default" ? "tokenizer.chat_template" : "tokenizer.chat_template." + name,
                  t["template"].get<std::string>());
    }
    return true;
  }
  if (std::filesystem::is_regular_file(hf_dir / "chat_template.jinja")) {
    w.SetString("tokenizer.chat_template", ReadTextFile(hf_dir / "chat_template.jinja"));
    return true;
  }
  return false;
}

// ---- byte-level BPE -> "gpt2" -----------------------------------------------------------------------------

// The llama.cpp pre-tokenizer type whose regex tokenizer.json's pre_tokenizer uses (llama.cpp itself hashes
// a sample tokenization; the regex is what that hash stands for).
const GgufPreTokenizer& DetectPreTokenizer(const HfVocab& v, const json& pre_tokenizer) {
  const GgufPreTokenizer* found = nullptr;
  if (pre_tokenizer.is_object() && pre_tokenizer.value("type", "") == "ByteLevel" &&
      pre_tokenizer.value("use_regex", true) && !pre_tokenizer.value("add_prefix_space", false)) {
    found = FindGgufPreTokenizer("gpt-2");
  } else if (pre_tokenizer.is_object() && pre_tokenizer.value("type", "") == "Sequence") {
    const json& list = pre_tokenizer.value("pretokenizers", json::array());
    if (list.size() == 2 && list[0].is_object() && list[1].is_object() && list[0].value("type", "") == "Split" && list[0].value("behavior", "") == "Isolated" &&
        !list[0].value("invert", false) && list[0].contains("pattern") && list[0]["pattern"].contains("Regex") && list[0]["pattern"]["Regex"].is_string() &&
        list[1].value("type", "") == "ByteLevel" && !list[1].value("use_regex", true) &&
        !list[1].value("add_prefix_space", false)) {
      found = FindGgufPreTokenizerByPattern(list[0]["pattern"]["Regex"].get<std::string>());
    }
  }
  if (found == nullptr) {
    throw Error(v.where, "pre_tokenizer " + Compact(pre_tokenizer) + " is none llama.cpp names",
                std::string("kvlab writes the byte-level pre-tokenizers ") + GgufPreTokenizerNames());
  }
  return *found;
}

GgufVocabSummary WriteByteLevel(GgufWriter& w, const HfVocab& v, const json& tokenizer_json) {
  const GgufPreTokenizer& pre = DetectPreTokenizer(v, tokenizer_json.value("pre_tokenizer", json()));
  std::vector<std::string> merges;
  for (auto& [left, right] : Merges(v)) {
    // gguf-py's spelling of a space inside a merge part (never present in byte-level text): U+0120.
    std::string line;
    for (const std::string* part : {&left, &right}) {
      if (!line.empty()) line += ' ';
      for (char c : *part) line += c == ' ' ? std::string("\u0120") : std::string(1, c);
    }
    merges.push_back(std::move(line));
  }
  w.SetString("tokenizer.ggml.model", "gpt2");
  w.SetString("tokenizer.ggml.pre", pre.name);
  w.SetStringArray("tokenizer.ggml.tokens", v.tokens);
  w.SetI32Array("tokenizer.ggml.token_type", v.types);
  w.SetStringArray("tokenizer.ggml.merges", merges);
  return {"gpt2", pre.name, v.tokens.size(), false};
}

// ---- byte-fallback BPE over U+2581 -> "llama" -------------------------------------------------------------

bool IsBytePiece(const std::string& piece) {
  auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f'); };
  return piece.size() == 6 && piece.compare(0, 3, "<0x") == 0 && hex(piece[3]) && hex(piece[4]) && piece[5] == '>';
}

// Scores under which llama.cpp's SentencePiece merging (the adjacent pair whose concatenation scores best
// merges first, ties leftmost) replays tokenizer.json's ranked merges: a token scores minus the rank of the
// first merge that makes it, tokens no merge makes score below all of them. This reproduces the merges
// exactly when every split of a token into two tokens is itself a merge, grouped by result, which is how
// tokenizers' SentencePiece converter writes them (Gemma: 514906 merges for 236339 results, all splits
// present, grouped except the whitespace runs that are cut out as added tokens first anyway). gguf-py's
// LlamaHfVocab instead gives every token -1000, which leaves llama.cpp to merge leftmost-first.
std::vector<float> ScoresFromMerges(const HfVocab& v, const std::vector<std::pair<std::string, std::string>>& merges) {
  std::unordered_map<std::string, size_t> first_rank;
  first_rank.reserve(merges.size());
  for (size_t rank = 0; rank < merges.size(); ++rank) first_rank.emplace(merges[rank].first + merges[rank].second, rank);
  // float holds every integer up to 2^24 exactly: ranks stay distinct.
  if (merges.size() >= (size_t{1} << 24)) throw Error(v.where, "more merges than scores can rank");
  std::vector<float> scores(v.tokens.size(), -static_cast<float>(merges.size()));
  for (size_t id = 0; id < v.tokens.size(); ++id) {
    if (auto it = first_rank.find(v.tokens[id]); it != first_rank.end()) scores[id] = -static_cast<float>(it->second);
  }
  return scores;
}

// Whether tokenizer.json puts U+2581 before the text (Llama 2's Prepend normalizer, or a Metaspace
// pre-tokenizer that prepends); Gemma's does not.
bool PrependsSpace(const json& tokenizer_json) {
  bool prepends = false;
  auto visit = [&](const json& node, const char* list_key, auto& self) -> void {
    if (!node.is_object()) return;
    const std::string type = node.value("type", "");
    if (type == "Sequence" && node.contains(list_key)) {
      for (const json& child : node[list_key]) self(child, list_key, self);
    } else if (type == "Prepend" && node.value("prepend", "") == kSpaceMarker) {
      prepends = true;
    } else if (type == "Metaspace") {
      prepends = prepends || node.value("add_prefix_space", false) || node.value("prepend_scheme", "never") != "never";
    }
  };
  visit(tokenizer_json.value("normalizer", json()), "normalizers", visit);
  visit(tokenizer_json.value("pre_tokenizer", json()), "pretokenizers", visit);
  return prepends;
}

GgufVocabSummary WriteSentencePiece(GgufWriter& w, HfVocab& v, const json& tokenizer_json) {
  const std::vector<float> scores = ScoresFromMerges(v, Merges(v));
  const std::string unk = v.model.value("unk_token", json()).is_string() ? v.model["unk_token"].get<std::string>() : "";
  for (size_t id = 0; id < v.tokens.size(); ++id) {
    std::string& piece = v.tokens[id];
    if (v.types[id] == kNormal && IsBytePiece(piece)) v.types[id] = kByte;
    if (!unk.empty() && piece == unk) v.types[id] = kUnknown;
    if (v.types[id] == kUserDefined) {
      // As llama.cpp's converter: user-defined tokens are cut out of the raw text, where spaces are spaces.
      std::string raw;
      for (size_t pos = 0; pos < piece.size();) {
        if (piece.compare(pos, 3, kSpaceMarker) == 0) {
          raw += ' ';
          pos += 3;
        } else {
          raw += piece[pos++];
        }
      }
      piece = std::move(raw);
    }
  }
  w.SetString("tokenizer.ggml.model", "llama");
  w.SetStringArray("tokenizer.ggml.tokens", v.tokens);
  w.SetF32Array("tokenizer.ggml.scores", scores);
  w.SetI32Array("tokenizer.ggml.token_type", v.types);
  w.SetBool("tokenizer.ggml.add_space_prefix", PrependsSpace(tokenizer_json));
  return {"llama", "", v.tokens.size(), false};
}

}  // namespace

std::optional<GgufVocabSummary> WriteHfVocabToGguf(const std::filesystem::path& hf_dir, const GgufVocabDefaults& d,
                                                   GgufWriter& w) {
  const std::filesystem::path path = hf_dir / "tokenizer.json";
  if (!std::filesystem::is_regular_file(path)) return std::nullopt;
  const json tokenizer_json = ReadJsonFile(path);
  HfVocab v;
  v.where = path.string();
  if (!tokenizer_json.is_object()) throw Error(v.where, "expected a JSON object");
  v.model = JsonMember(tokenizer_json, "model", v.where);
  const std::string type = JsonString(v.model, "type", v.where + ": model");
  if (type != "BPE") {
    throw Error(v.where, "model.type \"" + type + "\" has no GGUF vocabulary kvlab writes",
                "kvlab writes BPE vocabularies: byte-level (gpt2) and byte-fallback (llama)");
  }
  for (const json& a : tokenizer_json.value("added_tokens", json::array())) {
    if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer() || a["id"].get<int64_t>() < 0 ||
        !a.contains("content") || !a["content"].is_string()) {
      throw Error(v.where, "added_tokens entry " + Compact(a) + " has no content and id");
    }
    v.added.push_back({a["content"].get<std::string>(), a["id"].get<int32_t>(), a.value("special", false)});
  }
  if (std::filesystem::is_regular_file(hf_dir / "tokenizer_config.json")) {
    v.config = ReadJsonFile(hf_dir / "tokenizer_config.json");
  }
  if (!v.config.is_object()) v.config = json::object();
  CollectTokens(v, d.vocab_size);
  const SpecialIds special = FindSpecialIds(v, tokenizer_json, d);

  GgufVocabSummary summary = v.model.value("byte_fallback", false) ? WriteSentencePiece(w, v, tokenizer_json)
                                                                    : WriteByteLevel(w, v, tokenizer_json);
  WriteSpecialIds(w, special, v.tokens.size());
  summary.chat_template = WriteChatTemplate(w, v, hf_dir);
  return summary;
}

}  // namespace kvlab
