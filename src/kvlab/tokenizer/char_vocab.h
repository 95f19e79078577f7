// Character-level vocabulary (nanoGPT's shakespeare_char): a JSON list of one-character strings, id = index.
// There is no BOS/EOS and no fallback: a character outside the list cannot be encoded.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "kvlab/tokenizer/tokenizer.h"

namespace kvlab {

class CharVocab final : public Tokenizer {
 public:
  // Throws kvlab::Error naming `source` if an entry is not exactly one UTF-8 character or is repeated.
  CharVocab(std::vector<std::string> chars, std::string source);

  std::string_view Kind() const override { return "char"; }
  std::string DecodeToken(int32_t prev, int32_t id) const override;
  int32_t vocab_size() const override { return static_cast<int32_t>(chars_.size()); }
  std::string_view Piece(int32_t id) const override;

 protected:
  // Throws kvlab::Error naming the character and its byte offset if it is not in the vocabulary.
  std::vector<int32_t> EncodeText(std::string_view text, const EncodeOptions& options) const override;

 private:
  std::vector<std::string> chars_;
  std::string source_;
  std::array<int32_t, 128> ascii_ids_;  // fast path; -1 where absent
  std::unordered_map<std::string, int32_t> other_ids_;
};

// Reads a vocab.json that is a JSON array of strings.
std::unique_ptr<Tokenizer> LoadCharVocab(const std::filesystem::path& path);

}  // namespace kvlab
