#include "kvlab/tokenizer/hf_tokenizer_json.h"

#include <fmt/format.h>

#include <cctype>

#include "kvlab/tokenizer/gpt2_bpe.h"
#include "kvlab/tokenizer/json_file.h"
#include "kvlab/tokenizer/utf8.h"
#include "kvlab/util/error.h"

namespace kvlab {
namespace {

constexpr int32_t kMaxId = 1 << 22;  // ids index dense tables; matches ValidateConfig's vocab limit

bool IsAsciiSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}
// Approximates Rust's char::is_alphanumeric for single_word: any non-ASCII byte counts as a word character.
bool IsWordByte(char c) {
  const auto u = static_cast<uint8_t>(c);
  return u >= 0x80 || std::isalnum(u) || c == '_';
}

// tokenizer_config.json spells a special token as "<s>" or {"content": "<s>", ...}.
std::string TokenContent(const nlohmann::json& config, const char* key) {
  auto it = config.find(key);
  if (it == config.end()) return {};
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) {
    return (*it)["content"].get<std::string>();
  }
  return {};
}

// The first special token of a TemplateProcessing "single" template (Llama's "<s> $A"), if any.
std::string TemplateBos(const nlohmann::json& post) {
  if (!post.is_object()) return {};
  const std::string type =
      post.contains("type") && post["type"].is_string() ? post["type"].get<std::string>() : "";
  if (type == "Sequence" && post.contains("processors") && post["processors"].is_array()) {
    for (const auto& p : post["processors"]) {
      if (std::string bos = TemplateBos(p); !bos.empty()) return bos;
    }
    return {};
  }
  if (type != "TemplateProcessing" || !post.contains("single") || !post["single"].is_array()) return {};
  const auto& single = post["single"];
  if (single.empty() || !single[0].is_object() || !single[0].contains("SpecialToken")) return {};
  const auto& token = single[0]["SpecialToken"];
  return token.is_object() && token.contains("id") && token["id"].is_string() ? token["id"].get<std::string>()
                                                                              : std::string();
}

}  // namespace

HfTokenizer::HfTokenizer(const nlohmann::json& j, const HfSpecialTokens& special, const std::string& source)
    : source_(source) {
  try {
    Parse(j, special);
  } catch (const nlohmann::json::exception& e) {
    // A value of an unexpected type where the checks do not look still gives one clean error.
    throw Error(source, std::string("unexpected tokenizer.json structure: ") + e.what());
  }
}

void HfTokenizer::Parse(const nlohmann::json& j, const HfSpecialTokens& special) {
  const std::string& source = source_;
  if (!j.is_object()) throw Error(source, "expected a JSON object (a Hugging Face tokenizer.json)");
  ParseModel(JsonMember(j, "model", source), source + ": model");
  if (auto it = j.find("added_tokens"); it != j.end() && !it->is_null()) {
    ParseAddedTokens(*it, source + ": added_tokens");
  }
  auto member = [&](const char* key) { return j.contains(key) ? j[key] : nlohmann::json(); };
  normalizers_ = ParseHfNormalizer(member("normalizer"), source + ": normalizer");
  pre_tokenizers_ = ParseHfPreTokenizer(member("pre_tokenizer"), source + ": pre_tokenizer");
  decoders_ = ParseHfDecoder(member("decoder"), source + ": decoder");
  ResolveSpecialTokens(j, special);
}

void HfTokenizer::ParseModel(const nlohmann::json& model, const std::string& where) {
  if (!model.is_object()) throw Error(where, "expected a JSON object");
  if (auto it = model.find("type"); it != model.end() && *it != "BPE") {
    throw Error(where, "unsupported model type " + it->dump(), "kvlab implements BPE tokenizer.json models");
  }
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (auto it = model.find(key); it != model.end() && !it->is_null() && *it != "") {
      throw Error(where, std::string(key) + " " + it->dump() + " is not supported");
    }
  }
  const nlohmann::json& vocab = JsonMember(model, "vocab", where);
  if (!vocab.is_object()) throw Error(where, "\"vocab\" should be an object mapping tokens to ids");
  for (const auto& [token, id_json] : vocab.items()) {
    if (!id_json.is_number_integer() || id_json.get<int64_t>() < 0 || id_json.get<int64_t>() >= kMaxId) {
      throw Error(where, "vocab entry \"" + token + "\" has id " + id_json.dump() + ", expected 0.." +
                             std::to_string(kMaxId - 1));
    }
    const auto id = id_json.get<int32_t>();
    if (id >= static_cast<int32_t>(id_to_token_.size())) id_to_token_.resize(id + 1);
    if (!id_to_token_[id].empty()) throw Error(where, "vocab id " + std::to_string(id) + " is used twice");
    id_to_token_[id] = token;
    vocab_.emplace(token, id);
  }

  byte_fallback_ = JsonBool(model, "byte_fallback", false, where);
  fuse_unk_ = JsonBool(model, "fuse_unk", false, where);
  ignore_merges_ = JsonBool(model, "ignore_merges", false, where);
  // "dropout" is ignored: kvlab always tokenizes deterministically, as at inference.
  if (auto it = model.find("unk_token"); it != model.end() && !it->is_null()) {
    if (!it->is_string()) throw Error(where, "\"unk_token\" should be a string or null");
    unk_id_ = FindToken(it->get<std::string>());
    if (unk_id_ < 0) throw Error(where, "unk_token " + it->dump() + " is not in the vocabulary");
  }
  for (int b = 0; b < 256; ++b) byte_tokens_[b] = FindToken(fmt::format("<0x{:02X}>", b));

  const nlohmann::json& merges = JsonMember(model, "merges", where);
  if (!merges.is_array()) throw Error(where, "\"merges\" should be an array");
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const nlohmann::json& m = merges[rank];
    const std::string at = where + ".merges[" + std::to_string(rank) + "]";
    std::pair<std::string, std::string> pair;
    if (m.is_string()) {
      if (!SplitMergeLine(m.get<std::string>(), &pair))
        throw Error(at, "expected \"left right\", got " + m.dump());
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      pair = {m[0].get<std::string>(), m[1].get<std::string>()};
    } else {
      throw Error(at, "expected \"left right\" or [left, right], got " + m.dump());
    }
    const int32_t l = FindToken(pair.first), r = FindToken(pair.second);
    const int32_t result = FindToken(pair.first + pair.second);
    if (l < 0 || r < 0 || result < 0) {
      throw Error(at, "merge " + m.dump() + " uses a token that is not in the vocabulary");
    }
    merges_.Add(l, r, result, static_cast<int32_t>(rank));
  }
}

void HfTokenizer::ParseAddedTokens(const nlohmann::json& added, const std::string& where) {
  if (!added.is_array()) throw Error(where, "expected an array");
  for (size_t i = 0; i < added.size(); ++i) {
    const std::string at = where + "[" + std::to_string(i) + "]";
    AddedToken t;
    const int64_t id = JsonInt(added[i], "id", at);
    if (id < 0 || id >= kMaxId) throw Error(at, "id " + std::to_string(id) + " is out of range");
    t.id = static_cast<int32_t>(id);
    t.content = JsonString(added[i], "content", at);
    if (t.content.empty()) throw Error(at, "empty content");
    t.special = JsonBool(added[i], "special", false, at);
    t.normalized = JsonBool(added[i], "normalized", !t.special, at);
    t.lstrip = JsonBool(added[i], "lstrip", false, at);
    t.rstrip = JsonBool(added[i], "rstrip", false, at);
    t.single_word = JsonBool(added[i], "single_word", false, at);
    if (t.id >= static_cast<int32_t>(id_to_token_.size())) id_to_token_.resize(t.id + 1);
    id_to_token_[t.id] = t.content;  // added tokens take precedence when decoding, as in tokenizers
    added_.push_back(std::move(t));
  }
  special_.assign(id_to_token_.size(), 0);
  for (const AddedToken& t : added_) special_[t.id] = t.special ? 1 : 0;
}

int32_t HfTokenizer::FindToken(std::string_view content) const {
  for (const AddedToken& t : added_) {
    if (t.content == content) return t.id;
  }
  auto it = vocab_.find(content);
  return it == vocab_.end() ? -1 : it->second;
}

void HfTokenizer::ResolveSpecialTokens(const nlohmann::json& j, const HfSpecialTokens& special) {
  special_.resize(id_to_token_.size(), 0);
  const std::string template_bos =
      TemplateBos(j.contains("post_processor") ? j["post_processor"] : nlohmann::json());
  auto find_first = [&](std::initializer_list<std::string> names) {
    for (const std::string& name : names) {
      if (name.empty()) continue;
      if (int32_t id = FindToken(name); id >= 0) return id;
    }
    return int32_t{-1};
  };
  bos_id_ = find_first({special.bos, template_bos, "<s>", "<|begin_of_text|>", "<|endoftext|>"});
  eos_id_ = find_first({special.eos, "</s>", "<|end_of_text|>", "<|endoftext|>"});
  if (special.add_bos >= 0) {
    add_bos_ = special.add_bos == 1;
  } else {
    add_bos_ = !template_bos.empty() && FindToken(template_bos) == bos_id_;
  }
}

std::string_view HfTokenizer::Piece(int32_t id) const {
  if (id < 0 || id >= vocab_size()) return {};
  return id_to_token_[id];
}

std::vector<HfTokenizer::Segment> HfTokenizer::SplitAddedTokens(std::string_view text,
                                                                bool normalized) const {
  std::vector<Segment> out;
  std::vector<const AddedToken*> candidates;
  for (const AddedToken& t : added_) {
    if (t.normalized == normalized) candidates.push_back(&t);
  }
  size_t begin = 0;  // start of the pending text segment
  for (size_t pos = 0; pos < text.size() && !candidates.empty();) {
    // Leftmost-longest, like tokenizers' Aho-Corasick matcher.
    const AddedToken* best = nullptr;
    for (const AddedToken* t : candidates) {
      if (text.compare(pos, t->content.size(), t->content) != 0) continue;
      if (best != nullptr && t->content.size() <= best->content.size()) continue;
      const size_t end = pos + t->content.size();
      if (t->single_word &&
          ((pos > 0 && IsWordByte(text[pos - 1])) || (end < text.size() && IsWordByte(text[end])))) {
        continue;
      }
      best = t;
    }
    if (best == nullptr) {
      ++pos;
      continue;
    }
    size_t match_begin = pos, match_end = pos + best->content.size();
    if (best->lstrip) {
      while (match_begin > begin && IsAsciiSpace(text[match_begin - 1])) --match_begin;
    }
    if (best->rstrip) {
      while (match_end < text.size() && IsAsciiSpace(text[match_end])) ++match_end;
    }
    if (match_begin > begin) out.push_back({text.substr(begin, match_begin - begin), -1});
    out.push_back({{}, best->id});
    pos = begin = match_end;
  }
  if (begin < text.size()) out.push_back({text.substr(begin), -1});
  return out;
}

void HfTokenizer::EncodeWord(std::string_view word, std::vector<int32_t>* out) const {
  if (ignore_merges_) {
    if (auto it = vocab_.find(word); it != vocab_.end()) {
      out->push_back(it->second);
      return;
    }
  }
  std::vector<int32_t> symbols;
  symbols.reserve(word.size());
  bool pending_unk = false;  // an <unk> not yet emitted, so fuse_unk can fold a run of them into one
  auto flush_unk = [&] {
    if (pending_unk) symbols.push_back(unk_id_);
    pending_unk = false;
  };
  for (size_t pos = 0; pos < word.size();) {
    const size_t len = Utf8SeqLen(word, pos);
    const std::string_view c = word.substr(pos, len);
    pos += len;
    if (auto it = vocab_.find(c); it != vocab_.end()) {
      flush_unk();
      symbols.push_back(it->second);
      continue;
    }
    bool all_bytes = byte_fallback_;
    for (char b : c) all_bytes = all_bytes && byte_tokens_[static_cast<uint8_t>(b)] >= 0;
    if (all_bytes) {
      flush_unk();
      for (char b : c) symbols.push_back(byte_tokens_[static_cast<uint8_t>(b)]);
    } else if (unk_id_ >= 0) {
      if (!fuse_unk_) flush_unk();
      pending_unk = true;
    }
    // Without byte fallback or an unk token the character is dropped, as tokenizers does.
  }
  flush_unk();
  merges_.Apply(&symbols);
  out->insert(out->end(), symbols.begin(), symbols.end());
}

std::vector<int32_t> HfTokenizer::Encode(std::string_view text, bool add_bos) const {
  std::vector<int32_t> out;
  if (add_bos && bos_id_ >= 0) out.push_back(bos_id_);
  bool at_start = true;
  // Tokens with normalized=false are found in the raw text, the others after normalization.
  for (const Segment& raw : SplitAddedTokens(text, /*normalized=*/false)) {
    if (raw.token >= 0) {
      out.push_back(raw.token);
      at_start = false;
      continue;
    }
    const std::string normalized = ApplyHfNormalizers(normalizers_, raw.text);
    for (const Segment& seg : SplitAddedTokens(normalized, /*normalized=*/true)) {
      if (seg.token >= 0) {
        out.push_back(seg.token);
      } else {
        for (const std::string& word : ApplyHfPreTokenizers(pre_tokenizers_, seg.text, at_start)) {
          EncodeWord(word, &out);
        }
      }
      at_start = false;
    }
  }
  return out;
}

std::string HfTokenizer::DecodeToken(int32_t prev, int32_t id) const {
  if (id < 0 || id >= vocab_size() || special_[id]) return {};
  const std::string& token = id_to_token_[id];
  const bool first = prev < 0 || prev == bos_id_;
  if (decoders_.empty()) return first ? token : " " + token;  // tokenizers joins with spaces
  return ApplyHfDecoders(decoders_, token, first);
}

std::unique_ptr<Tokenizer> LoadHfTokenizerJson(const std::filesystem::path& path) {
  const nlohmann::json j = ReadJsonFile(path);
  HfSpecialTokens special;
  const std::filesystem::path config_path = path.parent_path() / "tokenizer_config.json";
  if (std::filesystem::is_regular_file(config_path)) {
    const nlohmann::json config = ReadJsonFile(config_path);
    if (config.is_object()) {
      special.bos = TokenContent(config, "bos_token");
      special.eos = TokenContent(config, "eos_token");
      if (auto it = config.find("add_bos_token"); it != config.end() && it->is_boolean()) {
        special.add_bos = it->get<bool>() ? 1 : 0;
      }
    }
  }
  return std::make_unique<HfTokenizer>(j, special, path.string());
}

}  // namespace kvlab
