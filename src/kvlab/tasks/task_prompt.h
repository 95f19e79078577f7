// BuildTaskPrompt: one prompt of a task at a given length and needle depth, deterministic from a seed, with
// the token spans a run needs: where the final question begins and which tokens carry the needles.
//
// Length is RULER's: prompt tokens + max_new_tokens ≤ length. The haystack is grown by binary search over
// its number of units (essay words, noise lines, distractor needles, list words) to the largest prompt that
// fits; every random choice (keys, values, the essay's start, distractor depths) is drawn once per seed
// before the search, so the search changes only how much haystack surrounds the same needles.
//
// Depth d ∈ [0, 1] places the first asked-for needle (vt: the chain's first assignment) at the insertion
// point nearest to d of the way through the haystack's units (0: before all of it, 1: after all of it).
// The other needles of the answer and the distractors go to depths drawn from the seed (vt: the rest of the
// chain after the first assignment, in order). The word tasks have no depth (`depth` is ignored).
//
// Token spans come from the tokenization of the whole prompt, never of pieces: a span [begin, end) is the
// tokens that carry any character of the piece (found as the longest common prefix of the prompt's ids
// with the ids of the text cut at the piece's start, and at its end).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kvlab/tasks/task_spec.h"
#include "kvlab/tokenizer/chat_template.h"
#include "kvlab/tokenizer/tokenizer.h"

namespace kvlab {

// How the prompt text becomes tokens.
struct PromptFormat {
  // Query-aware: the question also comes before the context (question_before). Off: only after it.
  bool question_before = false;
  // Instruct models: the text up to the answer prefix is the user message of `chat` (rendered with
  // add_generation_prompt, tokenized with special-token text parsed and nothing added, as transformers'
  // apply_chat_template), and answer_prefix follows the generation prompt. Null: the text as it is, with
  // what the vocabulary adds (EncodeOptions::add_special, e.g. BOS).
  const ChatTemplate* chat = nullptr;
};

struct TokenSpan {
  int32_t begin = 0, end = 0;  // token indices into TaskPrompt::ids, end exclusive
  int32_t size() const { return end - begin; }
};

struct TaskPrompt {
  std::string task;    // TaskSpec::name
  int64_t length = 0;  // the cell's length (prompt + max_new_tokens ≤ length)
  double depth = 0;    // the cell's depth (0 for tasks without one)
  uint64_t seed = 0;
  std::string text;  // the whole prompt as tokenized (chat: the rendered conversation + answer_prefix)
  std::vector<int32_t> ids;            // [prompt tokens]
  int32_t question_start = 0;          // first token of the final question (context = ids[0, question_start))
  std::vector<TokenSpan> needles;      // the asked-for needles (vt: the asked-for chain's assignments)
  std::vector<TokenSpan> distractors;  // needles that are not asked for (other keys, other chains)
  std::vector<std::string> answers;  // what the output must contain (ScoreKind::kAll) or begin with (kExact)
  int64_t haystack_units = 0;        // essay words, noise lines, distractor needles or list words used
  int max_new_tokens = 0;
  ScoreKind score = ScoreKind::kAll;
};

// Throws kvlab::Error "task NAME: ..." when the length cannot hold the prompt without any haystack, the
// essay file is missing or has too few words for the keys asked for, or a chat template fails.
TaskPrompt BuildTaskPrompt(const TaskSpec& spec, int64_t length, double depth, uint64_t seed,
                           const Tokenizer& tokenizer, const PromptFormat& format = {});

// The seed of one sample of one cell: a hash of the run's seed, the task name, the cell and the sample
// index, so every policy of a run sees the same prompts and cells never share one.
uint64_t TaskSampleSeed(uint64_t run_seed, const std::string& task, int64_t length, double depth, int sample);

}  // namespace kvlab
