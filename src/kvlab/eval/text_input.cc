#include "kvlab/eval/text_input.h"

#include <climits>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "kvlab/util/error.h"
#include "kvlab/util/mapped_file.h"

namespace kvlab {

namespace fs = std::filesystem;

std::vector<int32_t> TokenizeText(const Tokenizer& tokenizer, const TextSource& source, size_t max_tokens,
                                  const std::string& flag, bool parse_special) {
  const std::string text = ReadTextSource(source, flag);
  const EncodeOptions bos{.add_special = tokenizer.add_bos_default(), .parse_special = parse_special};
  if (max_tokens > 0) {
    // Every tokenizer here yields at least one token per 16 bytes; cut at a paragraph break so no token
    // straddles the cut, and fall back to the whole text if the prefix turns out too short.
    const size_t want = max_tokens * 16 + 1024;
    if (want < text.size()) {
      const size_t cut = text.find("\n\n", want);
      if (cut != std::string::npos) {
        std::vector<int32_t> ids = tokenizer.Encode(std::string_view(text).substr(0, cut), bos);
        if (ids.size() >= max_tokens) return ids;
      }
    }
  }
  std::vector<int32_t> ids = tokenizer.Encode(text, bos);
  if (ids.empty()) throw Error(flag, source.path.string() + " encodes to no tokens");
  return ids;
}

std::vector<int32_t> ReadIdsFile(const fs::path& path, const std::string& flag) {
  std::ifstream in(path);
  if (!in) throw Error(flag, "cannot open " + path.string());
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  for (char& c : s) {
    if (c == '[' || c == ']' || c == ',') c = ' ';
  }
  std::istringstream words(s);
  std::vector<int32_t> ids;
  std::string w;
  while (words >> w) {
    try {
      size_t used = 0;
      const long v = std::stol(w, &used);
      if (used != w.size() || v < 0 || v > INT32_MAX) throw std::invalid_argument(w);
      ids.push_back(static_cast<int32_t>(v));
    } catch (const std::exception&) {
      throw Error(flag, path.string() + ": '" + w + "' is not a token id");
    }
  }
  if (ids.empty()) throw Error(flag, path.string() + " holds no token ids");
  return ids;
}

}  // namespace kvlab
