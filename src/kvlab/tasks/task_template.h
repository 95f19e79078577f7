// Template text of a task (instruction, needle, question, ...): plain text with {placeholders}, a literal
// brace written {{ or }} (task_spec.h lists the placeholders and what each one means).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace kvlab {

// What the placeholders expand to in one prompt.
struct TemplateValues {
  std::string values;  // {values}: value_noun, or value_noun_singular with one expected answer
  std::string some = "Some", are = "are", are_all = "are all";  // {Some} {are} {are_all}
  std::string query;                                            // {query}
  std::string num_answers;                                      // {num_answers}
  std::string key, value;  // {key} {value}: one needle's (needle templates only)
};

// The placeholders a template may use: needle templates also take {key} and {value}.
enum class TemplateField { kText, kNeedle };

// The first problem of `tmpl` as a phrase ("unknown placeholder {foo} (known: ...)", "unclosed '{'",
// "unmatched '}'"), or "" when it is well-formed.
std::string CheckTemplate(std::string_view tmpl, TemplateField field);

// Expands a template CheckTemplate accepts (a malformed one expands as far as it can; never throws).
std::string ExpandTemplate(std::string_view tmpl, const TemplateValues& values);

// The query phrase of RULER-style questions: "a", "a and b", "a, b, and c".
std::string JoinQuery(const std::vector<std::string>& keys);

}  // namespace kvlab
