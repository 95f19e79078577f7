#include "kvlab/tasks/task_content.h"

#include "kvlab/tasks/task_spec_check.h"

namespace kvlab {

std::unique_ptr<TaskContent> DrawTaskContent(const TaskSpec& spec, int64_t length, double depth,
                                             uint64_t seed) {
  switch (spec.kind) {
    case TaskKind::kNeedle:
      return DrawNeedleContent(spec, depth, seed);
    case TaskKind::kVariableTracking:
      return DrawChainContent(spec, depth, seed);
    case TaskKind::kCommonWords:
      return DrawCommonWordsContent(spec, length, seed);
    case TaskKind::kFrequentWords:
      return DrawFrequentWordsContent(spec, length, seed);
  }
  return nullptr;
}

TemplateValues AnswerCountValues(const TaskSpec& spec, int answers) {
  // RULER's single-answer rewrite: Some -> A, are all -> is, are -> is, numbers -> number.
  const bool one = answers == 1;
  TemplateValues v{.values = one ? spec.value_noun_singular : spec.value_noun,
                   .some = one ? "A" : "Some",
                   .are = one ? "is" : "are",
                   .are_all = one ? "is" : "are all",
                   .query = "",
                   .num_answers = std::to_string(answers),
                   .key = "",
                   .value = ""};
  return v;
}

DrawnHaystack DrawHaystack(const TaskSpec& spec, TaskRng& rng) {
  DrawnHaystack h;
  if (spec.haystack == HaystackKind::kEssay) {
    h.essay = LoadEssay(spec);
    h.at = DrawEssayStart(*h.essay, spec, rng);
  }
  return h;
}

Context DrawnHaystack::Render(const TaskSpec& spec, int64_t n,
                              const std::vector<HaystackPiece>& pieces) const {
  if (essay != nullptr) return RenderEssay(*essay, at.start, at.wrap, n, pieces, spec);
  return RenderLines([&spec](int64_t) { return spec.noise_text; }, n, pieces);
}

}  // namespace kvlab
