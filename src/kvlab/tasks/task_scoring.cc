#include "kvlab/tasks/task_scoring.h"

#include <algorithm>

namespace kvlab {

namespace {

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string Lowered(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), Lower);
  return s;
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

}  // namespace

double ScoreTaskOutput(ScoreKind kind, const std::string& output, const std::vector<std::string>& answers) {
  if (answers.empty()) return 0;
  if (kind == ScoreKind::kExact) {
    // recall-char style: the answer must come first, so "1234" does not score on "no, 1234".
    size_t b = 0;
    while (b < output.size() && IsSpace(output[b])) ++b;
    return output.compare(b, answers[0].size(), answers[0]) == 0 ? 1.0 : 0.0;
  }
  // RULER scripts/eval/synthetic/constants.py string_match_all: r.lower() in pred.lower(), averaged over the
  // references (RULER's Python lower() is Unicode-aware; ASCII is what the generated answers hold).
  const std::string out = Lowered(output);
  int found = 0;
  for (const std::string& a : answers) found += out.find(Lowered(a)) != std::string::npos ? 1 : 0;
  return static_cast<double>(found) / static_cast<double>(answers.size());
}

}  // namespace kvlab
