#include "kvlab/tokenizer/gpt2_bpe.h"

#include <algorithm>

#include "kvlab/tokenizer/byte_level.h"
#include "kvlab/tokenizer/json_file.h"
#include "kvlab/tokenizer/unicode_normalize.h"
#include "kvlab/util/error.h"
#include "kvlab/util/mapped_file.h"

namespace kvlab {

Gpt2Bpe::Gpt2Bpe(Gpt2Vocab vocab)
    : vocab_(std::move(vocab)),
      pretokenizer_(vocab_.pattern.empty() ? Regex::Gpt2Pattern() : vocab_.pattern, /*literal=*/false,
                    vocab_.source) {
  const size_t n = vocab_.tokens.size();
  if (n == 0) throw Error(vocab_.source, "the vocabulary is empty");
  vocab_.special.resize(n, 0);
  // Control tokens not listed as added tokens are still cut out of the text (when specials are parsed).
  std::vector<AddedToken> added = vocab_.added;
  for (size_t id = 0; id < n; ++id) {
    const bool listed = std::any_of(added.begin(), added.end(), [&](const AddedToken& t) { return t.id == static_cast<int32_t>(id); });
    if (vocab_.special[id] && !listed && !vocab_.tokens[id].empty()) {
      added.push_back({vocab_.tokens[id], static_cast<int32_t>(id), /*special=*/true});
    }
  }
  for (const AddedToken& t : added) {
    if (t.id < 0 || t.id >= static_cast<int32_t>(n))
      throw Error(vocab_.source, "added token id " + std::to_string(t.id) + " is outside the vocabulary");
  }
  added_ = AddedTokenSplitter(std::move(added));
  for (int32_t id : {vocab_.bos_id, vocab_.eos_id}) {
    if (id >= static_cast<int32_t>(n)) {
      throw Error(vocab_.source, "special token id " + std::to_string(id) + " is outside the " +
                                     std::to_string(n) + "-token vocabulary");
    }
  }
  std::unordered_map<std::string_view, int32_t> token_to_id;
  token_to_id.reserve(n);
  for (size_t id = 0; id < n; ++id) {
    if (!vocab_.tokens[id].empty()) token_to_id[vocab_.tokens[id]] = static_cast<int32_t>(id);
  }
  auto find = [&](std::string_view token) {
    auto it = token_to_id.find(token);
    return it == token_to_id.end() ? -1 : it->second;
  };
  if (vocab_.ignore_merges) token_to_id_ = token_to_id;

  for (int b = 0; b < 256; ++b) {
    byte_ids_[b] = find(ByteLevelChar(static_cast<uint8_t>(b)));
    if (byte_ids_[b] < 0) {
      throw Error(
          vocab_.source,
          "no token for byte " + std::to_string(b) + " (\"" + ByteLevelChar(static_cast<uint8_t>(b)) + "\")",
          "a GPT-2 byte-level vocabulary has all 256 byte characters");
    }
  }
  for (size_t rank = 0; rank < vocab_.merges.size(); ++rank) {
    const auto& [left, right] = vocab_.merges[rank];
    const int32_t l = find(left), r = find(right), result = find(left + right);
    if (l < 0 || r < 0 || result < 0) {
      throw Error(vocab_.source, "merge " + std::to_string(rank) + " \"" + left + " " + right +
                                     "\" uses a token that is not in the vocabulary");
    }
    merges_.Add(l, r, result, static_cast<int32_t>(rank));
  }

  decoded_.resize(n);
  for (size_t id = 0; id < n; ++id) {
    if (vocab_.special[id]) continue;
    if (!ByteLevelDecode(vocab_.tokens[id], &decoded_[id])) decoded_[id] = vocab_.tokens[id];
  }
}

std::string_view Gpt2Bpe::Piece(int32_t id) const {
  if (id < 0 || id >= vocab_size()) return {};
  return vocab_.tokens[id];
}

std::vector<int32_t> Gpt2Bpe::EncodeText(std::string_view text, const EncodeOptions& options) const {
  std::vector<int32_t> out;
  if (options.add_special && vocab_.add_bos && vocab_.bos_id >= 0) out.push_back(vocab_.bos_id);
  for (const auto& segment : added_.Split(text, /*normalized=*/false, options.parse_special)) {
    if (segment.token >= 0) {
      out.push_back(segment.token);
    } else {
      EncodePiece(vocab_.nfc ? NormalizeUnicode(segment.text, UnicodeForm::kNfc) : std::string(segment.text), &out);
    }
  }
  return out;
}

void Gpt2Bpe::EncodePiece(std::string_view text, std::vector<int32_t>* out) const {
  std::vector<int32_t> symbols;
  for (std::string_view piece : SplitKeepAll(text, pretokenizer_.FindAll(text))) {
    if (vocab_.ignore_merges) {
      if (auto it = token_to_id_.find(ByteLevelEncode(piece)); it != token_to_id_.end()) {
        out->push_back(it->second);
        continue;
      }
    }
    if (word_cache_.Lookup(piece, out)) continue;
    symbols.clear();
    for (char c : piece) symbols.push_back(byte_ids_[static_cast<uint8_t>(c)]);
    merges_.Apply(&symbols);
    word_cache_.Insert(piece, symbols.data(), symbols.size());
    out->insert(out->end(), symbols.begin(), symbols.end());
  }
}

std::string Gpt2Bpe::DecodeToken(int32_t prev, int32_t id) const {
  if (id < 0 || id >= vocab_size()) return {};
  return decoded_[id];
}

std::unique_ptr<Tokenizer> LoadGpt2Tokenizer(const std::filesystem::path& encoder_json,
                                             const std::filesystem::path& merges_file) {
  const std::string name = encoder_json.string();
  const nlohmann::json encoder = ReadJsonFile(encoder_json);
  if (!encoder.is_object() || encoder.empty()) {
    throw Error(name, "expected a JSON object mapping tokens to ids");
  }
  Gpt2Vocab vocab;
  vocab.source = name;
  for (const auto& [token, id_json] : encoder.items()) {
    if (!id_json.is_number_integer() || id_json.get<int64_t>() < 0 || id_json.get<int64_t>() >= (1 << 22)) {
      throw Error(name, "token \"" + token + "\" has id " + id_json.dump() +
                            ", expected a small non-negative integer");
    }
    const auto id = id_json.get<size_t>();
    if (id >= vocab.tokens.size()) vocab.tokens.resize(id + 1);
    if (!vocab.tokens[id].empty()) throw Error(name, "id " + std::to_string(id) + " is used twice");
    vocab.tokens[id] = token;
  }

  const std::string merges_name = merges_file.string();
  const std::string merges_text = ReadTextFile(merges_file);
  size_t line_no = 0;
  for (size_t pos = 0; pos < merges_text.size();) {
    size_t end = merges_text.find('\n', pos);
    if (end == std::string::npos) end = merges_text.size();
    std::string_view line(merges_text.data() + pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos = end + 1;
    ++line_no;
    if (line.empty() || (line_no == 1 && line.rfind("#version", 0) == 0)) continue;
    std::pair<std::string, std::string> merge;
    if (!SplitMergeLine(line, &merge)) {
      throw Error(merges_name + ":" + std::to_string(line_no),
                  "expected a merge \"left right\", got \"" + std::string(line.substr(0, 80)) + "\"");
    }
    vocab.merges.push_back(std::move(merge));
  }

  for (size_t id = 0; id < vocab.tokens.size(); ++id) {
    if (vocab.tokens[id] == "<|endoftext|>") {
      vocab.special.resize(vocab.tokens.size(), 0);
      vocab.special[id] = 1;  // cut out of the text as a special added token by Gpt2Bpe
      vocab.bos_id = vocab.eos_id = static_cast<int32_t>(id);
    }
  }
  return std::make_unique<Gpt2Bpe>(std::move(vocab));
}

}  // namespace kvlab
