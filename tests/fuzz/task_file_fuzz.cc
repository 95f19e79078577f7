// libFuzzer target: task files (tasks/task_file.cc) must turn any bytes into task specs that pass
// ValidateTaskSpec and whose templates expand, or a kvlab::Error; never a crash, a hang or another exception.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "kvlab/tasks/task_spec.h"
#include "kvlab/tasks/task_template.h"
#include "kvlab/util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<kvlab::TaskSpec> tasks;
  try {
    tasks =
        kvlab::ParseTaskFileText(std::string(reinterpret_cast<const char*>(data), size), "fuzz/tasks.toml");
  } catch (const kvlab::Error&) {
    return 0;
  }
  // Outside the try: what parsed must be valid (an Error here escapes and fails the run).
  kvlab::TemplateValues values;
  values.values = "numbers";
  values.query = "q";
  values.key = "k";
  values.value = "1";
  for (const kvlab::TaskSpec& t : tasks) {
    kvlab::ValidateTaskSpec(t, "fuzz");
    if (kvlab::FindTask(t.name, tasks, "fuzz").name != t.name) __builtin_trap();
    for (const std::string* s :
         {&t.instruction, &t.needle, &t.question, &t.question_before, &t.answer_prefix}) {
      (void)kvlab::ExpandTemplate(*s, values);
    }
  }
  return 0;
}
