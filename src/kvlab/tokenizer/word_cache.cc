#include "kvlab/tokenizer/word_cache.h"

namespace kvlab {

bool WordCache::Lookup(std::string_view word, std::vector<int32_t>* out) const {
  if (word.size() > kMaxWordBytes) return false;
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = entries_.find(word);
  if (it == entries_.end()) return false;
  out->insert(out->end(), it->second.begin(), it->second.end());
  return true;
}

void WordCache::Insert(std::string_view word, const int32_t* ids, size_t n) const {
  if (word.size() > kMaxWordBytes) return;
  std::lock_guard<std::mutex> lock(mutex_);
  if (entries_.size() >= kMaxEntries) return;
  entries_.try_emplace(std::string(word), ids, ids + n);
}

}  // namespace kvlab
