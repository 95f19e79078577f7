#include "kvlab/tasks/task_items.h"

namespace kvlab {

std::string DrawItem(ItemKind kind, int digits, const std::vector<std::string>& words, TaskRng& rng) {
  std::string out;
  switch (kind) {
    case ItemKind::kNone:
      break;
    case ItemKind::kNumbers:
      out += static_cast<char>('1' + rng.Below(9));
      for (int i = 1; i < digits; ++i) out += static_cast<char>('0' + rng.Below(10));
      break;
    case ItemKind::kLetters:
      for (int i = 0; i < digits; ++i) out += static_cast<char>('A' + rng.Below(26));
      break;
    case ItemKind::kUuids: {
      static constexpr char kHex[] = "0123456789abcdef";
      const uint64_t hi = rng.Next(), lo = rng.Next();
      for (int i = 0; i < 32; ++i) {
        int nibble = static_cast<int>(((i < 16 ? hi : lo) >> (60 - 4 * (i % 16))) & 15);
        if (i == 12) nibble = 4;                 // version 4
        if (i == 16) nibble = 8 | (nibble & 3);  // RFC 4122 variant 10xx
        if (i == 8 || i == 12 || i == 16 || i == 20) out += '-';
        out += kHex[nibble];
      }
      break;
    }
    case ItemKind::kWords: {
      if (words.size() < 2) break;  // the caller checks the vocabulary first
      const uint64_t a = rng.Below(words.size());
      uint64_t b = rng.Below(words.size() - 1);
      b += b >= a ? 1 : 0;
      out = words[a] + "-" + words[b];
      break;
    }
  }
  return out;
}

std::optional<std::string> DistinctItems::Draw(ItemKind kind, int digits,
                                               const std::vector<std::string>& words, TaskRng& rng,
                                               int attempts) {
  for (int i = 0; i < attempts; ++i) {
    std::string item = DrawItem(kind, digits, words, rng);
    if (taken_.insert(item).second) return item;
  }
  return std::nullopt;
}

}  // namespace kvlab
