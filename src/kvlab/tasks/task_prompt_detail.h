// BuildTaskPrompt's pieces, exposed for tests: a prompt with an exact number of haystack units (no length
// search), so a test can check that one unit more would not have fit.
#pragma once

#include <cstdint>

#include "kvlab/tasks/task_prompt.h"

namespace kvlab::detail {

// The prompt BuildTaskPrompt would give if its search had settled on `units` haystack units (the content is
// capped at what the task can render: a finite vocabulary or key space). No check against `length`.
TaskPrompt BuildTaskPromptWithUnits(const TaskSpec& spec, int64_t length, double depth, uint64_t seed,
                                    const Tokenizer& tokenizer, const PromptFormat& format, int64_t units);

}  // namespace kvlab::detail
