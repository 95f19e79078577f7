// What one sample of a task draws from its seed (keys, values, needles, word lists, the essay's start), and
// the context it gives with n haystack units: BuildTaskPrompt's length search renders the same draw with
// different n, so only the amount of haystack around the needles changes.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kvlab/tasks/haystack.h"
#include "kvlab/tasks/task_spec.h"
#include "kvlab/tasks/task_template.h"

namespace kvlab {

class TaskContent {
 public:
  virtual ~TaskContent() = default;
  // The context with n haystack units (essay words, noise lines, distractor needle lines, uncommon words of
  // the common-words list, or the Zipf word count n of the frequent-words text).
  virtual Context Render(int64_t n) = 0;
  // The largest n <= want that Render can take (the haystack may be finite: a vocabulary, distinct keys).
  virtual int64_t Cap(int64_t want) { return want; }

  TemplateValues values;             // the placeholders of the instruction / question / answer prefix
  std::vector<std::string> answers;  // TaskPrompt::answers
};

// Draws one sample (TaskRng seeded by `seed`). `length` matters only where RULER sizes a draw by it (cwe's
// repeat counts, fwe's vocabulary). Throws kvlab::Error "task NAME: ..." (missing essay, too few words).
std::unique_ptr<TaskContent> DrawTaskContent(const TaskSpec& spec, int64_t length, double depth,
                                             uint64_t seed);

// Per kind (needle_content.cc, chain_content.cc, word_lists.cc).
std::unique_ptr<TaskContent> DrawNeedleContent(const TaskSpec& spec, double depth, uint64_t seed);
std::unique_ptr<TaskContent> DrawChainContent(const TaskSpec& spec, double depth, uint64_t seed);
std::unique_ptr<TaskContent> DrawCommonWordsContent(const TaskSpec& spec, int64_t length, uint64_t seed);
std::unique_ptr<TaskContent> DrawFrequentWordsContent(const TaskSpec& spec, int64_t length, uint64_t seed);

// The essay or noise haystack of the needle and chain tasks (a needles haystack is the needle task's own).
struct DrawnHaystack {
  std::shared_ptr<const EssayFile> essay;  // kEssay only
  EssayStart at;
  Context Render(const TaskSpec& spec, int64_t n, const std::vector<HaystackPiece>& pieces) const;
};
// kEssay: loads the file and draws the start; kNoise: draws nothing.
DrawnHaystack DrawHaystack(const TaskSpec& spec, TaskRng& rng);

// {values} {Some} {are} {are_all} {num_answers} for a prompt that expects `answers` answers (RULER's rewrite
// of its template for a single answer).
TemplateValues AnswerCountValues(const TaskSpec& spec, int answers);

}  // namespace kvlab
