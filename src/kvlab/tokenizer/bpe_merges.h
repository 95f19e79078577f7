// Rank-based BPE merging, shared by the GPT-2 and Hugging Face tokenizers.
//
// The algorithm is the one Hugging Face `tokenizers` uses (models/bpe/word.rs): a min-heap of adjacent
// pairs ordered by (merge rank, position), stale entries skipped when popped. It gives the same result as
// GPT-2's "merge every occurrence of the best pair, repeat" loop in O(n log n) instead of O(n^2), which
// matters for vocabularies without a pre-tokenizer, where one "word" is the whole input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <unordered_map>
#include <vector>

namespace kvlab {

// "a b" -> {"a", "b"}; false if there is no separating space. The first character never counts as the
// separator, so a merge of a space token (" x") still parses.
bool SplitMergeLine(std::string_view line, std::pair<std::string, std::string>* out);

class BpeMergeTable {
 public:
  // Registers "left right -> result". Lower rank merges first. A pair registered twice keeps the later
  // rank, as Hugging Face's HashMap collect and GPT-2's dict() do.
  void Add(int32_t left, int32_t right, int32_t result, int32_t rank);
  void Reserve(size_t merges) { merges_.reserve(merges); }
  size_t size() const { return merges_.size(); }

  // Merges the token ids in `symbols` in place until no registered pair is adjacent.
  void Apply(std::vector<int32_t>* symbols) const;

 private:
  struct Merge {
    int32_t rank;
    int32_t result;
  };
  static uint64_t Key(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
  }
  const Merge* Find(int32_t left, int32_t right) const;

  std::unordered_map<uint64_t, Merge> merges_;
};

}  // namespace kvlab
