// Needle keys and values (and variable names): drawing items of an ItemKind, distinct across a prompt.
#pragma once

#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "kvlab/tasks/task_random.h"
#include "kvlab/tasks/task_spec.h"

namespace kvlab {

// One item: kNumbers `digits` decimal digits without a leading zero; kLetters `digits` upper-case letters;
// kUuids a version-4 UUID in lower-case 8-4-4-4-12 hex (RULER: uuid.UUID(int=getrandbits(128), version=4));
// kWords "a-b", two distinct words of `words` (RULER: an adjective-noun pair); kNone "".
std::string DrawItem(ItemKind kind, int digits, const std::vector<std::string>& words, TaskRng& rng);

// Items that must all differ (keys, values, distractors' keys and values of one prompt share one set, so a
// distractor can never repeat what is asked for).
class DistinctItems {
 public:
  // A fresh item, or nullopt when `attempts` draws all repeated one already taken (a small item space).
  std::optional<std::string> Draw(ItemKind kind, int digits, const std::vector<std::string>& words,
                                  TaskRng& rng, int attempts = 1000);
  void Take(const std::string& item) { taken_.insert(item); }

 private:
  std::unordered_set<std::string> taken_;
};

}  // namespace kvlab
