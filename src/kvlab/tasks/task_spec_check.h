// The checks behind ValidateTaskSpec, as data: the first problem of a spec and the field it is in (named as
// in a task file), so the task file reader can point at the line of that key.
#pragma once

#include <optional>
#include <string>

#include "kvlab/tasks/task_spec.h"

namespace kvlab {

struct TaskSpecProblem {
  std::string field;  // the task file key: "queries", "needle", "key" (key_kind), ...
  std::string what;   // one phrase: "5 is more than keys (4)"
};

std::optional<TaskSpecProblem> CheckTaskSpec(const TaskSpec& spec);

// How many answers a prompt of `spec` expects (RULER's {values} / "Some" rewrite keys off this).
int ExpectedAnswers(const TaskSpec& spec);

}  // namespace kvlab
