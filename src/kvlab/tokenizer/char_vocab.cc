#include "kvlab/tokenizer/char_vocab.h"

#include "kvlab/tokenizer/json_file.h"
#include "kvlab/tokenizer/utf8.h"
#include "kvlab/util/error.h"

namespace kvlab {

CharVocab::CharVocab(std::vector<std::string> chars, std::string source)
    : chars_(std::move(chars)), source_(std::move(source)) {
  if (chars_.empty()) throw Error(source_, "the character list is empty");
  ascii_ids_.fill(-1);
  for (size_t id = 0; id < chars_.size(); ++id) {
    const std::string& c = chars_[id];
    size_t len = 0;
    if (!c.empty()) DecodeUtf8(c, 0, &len);
    const bool one_char = !c.empty() && len == c.size() && (len > 1 || static_cast<uint8_t>(c[0]) < 0x80);
    if (!one_char) {
      throw Error(source_,
                  "entry " + std::to_string(id) + " should be one UTF-8 character, got \"" + c + "\"");
    }
    const auto id32 = static_cast<int32_t>(id);
    const bool fresh = len == 1 ? ascii_ids_[static_cast<uint8_t>(c[0])] < 0 : other_ids_.count(c) == 0;
    if (!fresh) throw Error(source_, "character " + DescribeChar(c) + " appears twice");
    if (c.size() == 1) {
      ascii_ids_[static_cast<uint8_t>(c[0])] = id32;
    } else {
      other_ids_[c] = id32;
    }
  }
}

std::vector<int32_t> CharVocab::EncodeText(std::string_view text, const EncodeOptions& options) const {
  std::vector<int32_t> out;
  out.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    const size_t len = Utf8SeqLen(text, pos);
    const std::string_view c = text.substr(pos, len);
    int32_t id = -1;
    if (len == 1 && static_cast<uint8_t>(c[0]) < 0x80) {
      id = ascii_ids_[static_cast<uint8_t>(c[0])];
    } else if (auto it = other_ids_.find(std::string(c)); it != other_ids_.end()) {
      id = it->second;
    }
    if (id < 0) {
      throw Error(source_,
                  "character " + DescribeChar(c) + " at byte " + std::to_string(pos) + " is not in the " +
                      std::to_string(chars_.size()) + "-character vocabulary",
                  "a character-level model can only read the characters it was trained on");
    }
    out.push_back(id);
    pos += len;
  }
  return out;
}

std::string CharVocab::DecodeToken(int32_t prev, int32_t id) const {
  if (id < 0 || id >= vocab_size()) return {};
  return chars_[id];
}

std::string_view CharVocab::Piece(int32_t id) const {
  if (id < 0 || id >= vocab_size()) return {};
  return chars_[id];
}

std::unique_ptr<Tokenizer> LoadCharVocab(const std::filesystem::path& path) {
  const nlohmann::json list = ReadJsonFile(path);
  if (!list.is_array()) throw Error(path.string(), "expected a JSON array of one-character strings");
  std::vector<std::string> chars;
  chars.reserve(list.size());
  for (size_t i = 0; i < list.size(); ++i) {
    if (!list[i].is_string()) {
      throw Error(path.string(),
                  "entry " + std::to_string(i) + " should be a string, got " + list[i].type_name());
    }
    chars.push_back(list[i].get<std::string>());
  }
  return std::make_unique<CharVocab>(std::move(chars), path.string());
}

}  // namespace kvlab
