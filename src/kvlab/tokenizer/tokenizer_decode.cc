// Tokenizer::Decode's default and transformers' clean-up of decoded text, apart from the factory in
// tokenizer.cc so that a tokenizer can be built (and fuzzed) without the file-format loaders.
#include <utility>

#include "kvlab/tokenizer/tokenizer.h"

namespace kvlab {

std::string Tokenizer::Decode(const std::vector<int32_t>& ids, const DecodeOptions& options) const {
  std::string text;
  int32_t prev = -1;
  for (int32_t id : ids) {
    if (!options.skip_special && IsSpecial(id)) {
      text += Piece(id);
    } else {
      text += DecodeToken(prev, id);
    }
    prev = id;
  }
  return options.clean_up_spaces ? CleanUpTokenizationSpaces(std::move(text)) : text;
}

std::string CleanUpTokenizationSpaces(std::string text) {
  // transformers' PreTrainedTokenizerBase.clean_up_tokenization, replacement by replacement in its order.
  static constexpr std::pair<std::string_view, std::string_view> kReplacements[] = {
      {" .", "."},   {" ?", "?"},     {" !", "!"},     {" ,", ","},     {" ' ", "'"},
      {" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"},   {" 've", "'ve"}, {" 're", "'re"},
  };
  for (const auto& [from, to] : kReplacements) {
    std::string out;
    out.reserve(text.size());
    size_t pos = 0;
    for (size_t hit; (hit = text.find(from, pos)) != std::string::npos; pos = hit + from.size()) {
      out.append(text, pos, hit - pos).append(to);
    }
    out.append(text, pos);
    text = std::move(out);
  }
  return text;
}

}  // namespace kvlab
