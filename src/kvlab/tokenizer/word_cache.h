// A cache of the ids each pre-tokenized word merged into. Running text repeats its words (Moby-Dick's
// 215k words are 17k distinct ones), and merging a word costs far more than looking it up, so a BPE
// tokenizer merges each distinct word once, as Hugging Face tokenizers' own word cache does. Safe to share
// between threads; bounded, after which new words are merged every time.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace kvlab {

class WordCache {
 public:
  static constexpr size_t kMaxEntries = 1 << 16;
  static constexpr size_t kMaxWordBytes = 64;  // longer words are rare and would crowd the cache

  // Appends the cached ids of `word` to `out` and returns true, or returns false.
  bool Lookup(std::string_view word, std::vector<int32_t>* out) const;
  void Insert(std::string_view word, const int32_t* ids, size_t n) const;

 private:
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  mutable std::mutex mutex_;
  mutable std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> entries_;
};

}  // namespace kvlab
