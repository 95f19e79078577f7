#include "kvlab/tokenizer/hf_tokenizer_json.h"

#include <fmt/format.h>

#include "kvlab/tokenizer/gpt2_bpe.h"
#include "kvlab/tokenizer/json_file.h"
#include "kvlab/tokenizer/utf8.h"
#include "kvlab/util/error.h"

namespace kvlab {
namespace {

constexpr int32_t kMaxId = 1 << 22;  // ids index dense tables; matches ValidateConfig's vocab limit

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
    added_ = AddedTokenSplitter(ParseAddedTokens(*it, source + ": added_tokens"));
  }
  special_.assign(id_to_token_.size(), 0);
  for (const AddedToken& t : added_.tokens()) special_[t.id] = t.special ? 1 : 0;
  auto member = [&](const char* key) { return j.contains(key) ? j[key] : nlohmann::json(); };
  normalizers_ = ParseHfNormalizer(member("normalizer"), source + ": normalizer");
  pre_tokenizers_ = ParseHfPreTokenizer(member("pre_tokenizer"), source + ": pre_tokenizer");
  decoders_ = ParseHfDecoder(member("decoder"), source + ": decoder");
  ParsePostProcessor(member("post_processor"), source + ": post_processor");
  ResolveSpecialTokens(special);
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
  vocab_.reserve(vocab.size());
  id_to_token_.reserve(vocab.size());
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
  merges_.Reserve(merges.size());
  std::string joined;
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
    joined.assign(pair.first).append(pair.second);
    const int32_t result = FindToken(joined);
    if (l < 0 || r < 0 || result < 0) {
      throw Error(at, "merge " + m.dump() + " uses a token that is not in the vocabulary");
    }
    merges_.Add(l, r, result, static_cast<int32_t>(rank));
  }
}

std::vector<AddedToken> HfTokenizer::ParseAddedTokens(const nlohmann::json& added, const std::string& where) {
  if (!added.is_array()) throw Error(where, "expected an array");
  std::vector<AddedToken> tokens;
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
    tokens.push_back(std::move(t));
  }
  return tokens;
}

int32_t HfTokenizer::FindToken(std::string_view content) const {
  if (const AddedToken* t = added_.Find(content)) return t->id;
  auto it = vocab_.find(content);
  return it == vocab_.end() ? -1 : it->second;
}

void HfTokenizer::ParsePostProcessor(const nlohmann::json& post, const std::string& where) {
  if (post.is_null()) return;
  const std::string type = JsonString(post, "type", where);
  // The ids of a special token named in a template: its own "ids" list in "special_tokens".
  auto special_ids = [&](const std::string& name, const std::string& at) {
    const nlohmann::json& table = JsonMember(post, "special_tokens", where);
    const nlohmann::json& entry = JsonMember(table, name.c_str(), at);
    const nlohmann::json& ids = JsonMember(entry, "ids", at);
    if (!ids.is_array()) throw Error(at, "\"ids\" of special token \"" + name + "\" should be an array");
    std::vector<int32_t> out;
    for (const nlohmann::json& id : ids) {
      if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= vocab_size()) {
        throw Error(at, "special token \"" + name + "\" has id " + id.dump() + " outside the vocabulary");
      }
      out.push_back(id.get<int32_t>());
    }
    return out;
  };
  // RobertaProcessing / BertProcessing: {"cls": ["<s>", 0], "sep": ["</s>", 2]}.
  auto pair_id = [&](const char* key) {
    const nlohmann::json& pair = JsonMember(post, key, where);
    if (!pair.is_array() || pair.size() != 2 || !pair[1].is_number_integer() || pair[1].get<int64_t>() < 0 ||
        pair[1].get<int64_t>() >= vocab_size()) {
      throw Error(where + "." + key, "expected [token, id] with an id in the vocabulary, got " + pair.dump());
    }
    return pair[1].get<int32_t>();
  };
  if (type == "Sequence") {
    const nlohmann::json& list = JsonMember(post, "processors", where);
    if (!list.is_array()) throw Error(where, "\"processors\" should be an array");
    for (size_t i = 0; i < list.size(); ++i) {
      ParsePostProcessor(list[i], where + ".processors[" + std::to_string(i) + "]");
    }
  } else if (type == "ByteLevel") {
    // Adjusts offsets only; adds no tokens.
  } else if (type == "TemplateProcessing") {
    const nlohmann::json& single = JsonMember(post, "single", where);
    if (!single.is_array()) throw Error(where, "\"single\" should be an array");
    bool after_text = false;
    for (size_t i = 0; i < single.size(); ++i) {
      const std::string at = where + ".single[" + std::to_string(i) + "]";
      const nlohmann::json& piece = single[i];
      if (piece.is_object() && piece.contains("Sequence")) {
        after_text = true;
      } else if (piece.is_object() && piece.contains("SpecialToken")) {
        const std::vector<int32_t> ids = special_ids(JsonString(piece["SpecialToken"], "id", at), at);
        std::vector<int32_t>& side = after_text ? suffix_ : prefix_;
        side.insert(side.end(), ids.begin(), ids.end());
      } else {
        throw Error(at, "expected {\"SpecialToken\": ...} or {\"Sequence\": ...}, got " + piece.dump());
      }
    }
  } else if (type == "RobertaProcessing" || type == "BertProcessing") {
    prefix_.push_back(pair_id("cls"));
    suffix_.push_back(pair_id("sep"));
  } else {
    throw Error(
        where, "unsupported post_processor type \"" + type + "\"",
        "kvlab implements Sequence, ByteLevel, TemplateProcessing, RobertaProcessing and BertProcessing");
  }
}

void HfTokenizer::ResolveSpecialTokens(const HfSpecialTokens& special) {
  auto find_first = [&](std::initializer_list<std::string> names) {
    for (const std::string& name : names) {
      if (name.empty()) continue;
      if (int32_t id = FindToken(name); id >= 0) return id;
    }
    return int32_t{-1};
  };
  const std::string template_bos = prefix_.empty() ? std::string() : id_to_token_[prefix_.front()];
  bos_id_ = find_first({special.bos, template_bos, "<s>", "<|begin_of_text|>", "<|endoftext|>"});
  eos_id_ = find_first({special.eos, "</s>", "<|end_of_text|>", "<|endoftext|>"});
  if (special.add_bos >= 0) {
    prefix_.clear();
    if (special.add_bos == 1 && bos_id_ >= 0) prefix_.push_back(bos_id_);
  }
  if (special.add_eos >= 0) {
    suffix_.clear();
    if (special.add_eos == 1 && eos_id_ >= 0) suffix_.push_back(eos_id_);
  }
  clean_up_spaces_ = special.clean_up_spaces;
}

std::string_view HfTokenizer::Piece(int32_t id) const {
  if (id < 0 || id >= vocab_size()) return {};
  return id_to_token_[id];
}

void HfTokenizer::EncodeWord(std::string_view word, std::vector<int32_t>* out) const {
  if (ignore_merges_) {
    if (auto it = vocab_.find(word); it != vocab_.end()) {
      out->push_back(it->second);
      return;
    }
  }
  if (word_cache_.Lookup(word, out)) return;
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
  word_cache_.Insert(word, symbols.data(), symbols.size());
  out->insert(out->end(), symbols.begin(), symbols.end());
}

std::vector<int32_t> HfTokenizer::EncodeText(std::string_view text, const EncodeOptions& options) const {
  std::vector<int32_t> out;
  if (options.add_special) out = prefix_;
  bool at_start = true;
  // Tokens with normalized=false are found in the raw text, the others after normalization.
  for (const auto& raw : added_.Split(text, /*normalized=*/false, options.parse_special)) {
    if (raw.token >= 0) {
      out.push_back(raw.token);
      at_start = false;
      continue;
    }
    const std::string normalized = ApplyHfNormalizers(normalizers_, raw.text);
    for (const auto& seg : added_.Split(normalized, /*normalized=*/true, options.parse_special)) {
      if (seg.token >= 0) {
        out.push_back(seg.token);
      } else {
        ForEachHfWord(pre_tokenizers_, seg.text, at_start,
                      [&](std::string_view word) { EncodeWord(word, &out); });
      }
      at_start = false;
    }
  }
  if (options.add_special) out.insert(out.end(), suffix_.begin(), suffix_.end());
  return out;
}

std::string HfTokenizer::DecodeToken(int32_t prev, int32_t id) const {
  if (id < 0 || id >= vocab_size() || special_[id]) return {};
  const std::string& token = id_to_token_[id];
  const bool first = prev < 0 || prev == bos_id_;
  if (decoders_.empty()) return first ? token : " " + token;  // tokenizers joins with spaces
  return ApplyHfDecoders(decoders_, token, first);
}

std::string HfTokenizer::Decode(const std::vector<int32_t>& ids, const DecodeOptions& options) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int32_t id : ids) {
    if (id < 0 || id >= vocab_size() || (options.skip_special && special_[id])) continue;
    tokens.push_back(id_to_token_[id]);
  }
  std::string text = ApplyHfDecodersToSequence(decoders_, std::move(tokens));
  return options.clean_up_spaces ? CleanUpTokenizationSpaces(std::move(text)) : text;
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
      if (auto it = config.find("add_eos_token"); it != config.end() && it->is_boolean()) {
        special.add_eos = it->get<bool>() ? 1 : 0;
      }
      if (auto it = config.find("clean_up_tokenization_spaces"); it != config.end() && it->is_boolean()) {
        special.clean_up_spaces = it->get<bool>();
      }
    }
  }
  return std::make_unique<HfTokenizer>(j, special, path.string());
}

}  // namespace kvlab
