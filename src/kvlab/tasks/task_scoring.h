// Scoring a task's output against its expected answers (RULER scripts/eval/synthetic/constants.py).
#pragma once

#include <string>
#include <vector>

#include "kvlab/tasks/task_spec.h"

namespace kvlab {

// kAll: the fraction of `answers` that occur in `output`, ignoring ASCII case (RULER string_match_all).
// kExact: 1 if `output` with leading whitespace removed begins with answers[0] (case-sensitive), else 0.
// An empty answer list scores 0.
double ScoreTaskOutput(ScoreKind kind, const std::string& output, const std::vector<std::string>& answers);

}  // namespace kvlab
