// Variable tracking (RULER variable_tracking.py): chains "VAR A = 12345", "VAR B = VAR A", ... of hops + 1
// distinct names; the first chain is asked for ("which variables hold 12345?"), the others are distractors.
#include <algorithm>

#include "kvlab/tasks/task_content.h"
#include "kvlab/tasks/task_items.h"
#include "kvlab/tasks/task_spec_check.h"
#include "kvlab/util/error.h"

namespace kvlab {

namespace {

class ChainContent final : public TaskContent {
 public:
  ChainContent(const TaskSpec& spec, double depth, uint64_t seed) : spec_(spec) {
    TaskRng rng(seed);
    std::shared_ptr<const std::vector<std::string>> words;
    if (spec.key_kind == ItemKind::kWords || spec.value_kind == ItemKind::kWords)
      words = LoadEssayWords(spec);
    static const std::vector<std::string> kNoWords;
    const std::vector<std::string>& vocabulary = words != nullptr ? *words : kNoWords;
    if ((spec.key_kind == ItemKind::kWords || spec.value_kind == ItemKind::kWords) && vocabulary.size() < 2) {
      throw Error("task " + spec.name,
                  "haystack file '" + spec.haystack_file + "' has too few lower-case words");
    }
    DistinctItems items;
    const auto draw = [&](ItemKind kind, int digits) {
      std::optional<std::string> item = items.Draw(kind, digits, vocabulary, rng);
      if (!item) throw Error("task " + spec.name, "cannot draw enough distinct variable names and values");
      return *item;
    };
    // Names of every chain, then each chain's value, then the depths.
    std::vector<std::vector<std::string>> names(static_cast<size_t>(spec.chains));
    for (auto& chain : names) {
      for (int h = 0; h <= spec.hops; ++h) chain.push_back(draw(spec.key_kind, spec.key_digits));
    }
    std::vector<std::string> chain_values;
    for (int c = 0; c < spec.chains; ++c) chain_values.push_back(draw(spec.value_kind, spec.value_digits));

    // RULER's essay haystack ends each assignment with a period (it becomes a sentence of the essay).
    const std::string end = spec.haystack == HaystackKind::kEssay ? "." : "";
    for (size_t c = 0; c < names.size(); ++c) {
      // The asked-for chain starts at `depth` and continues, in order, at depths drawn after it; the others
      // are in order at depths drawn over the whole haystack.
      std::vector<double> depths(names[c].size());
      for (double& d : depths) d = rng.Fraction();
      std::sort(depths.begin(), depths.end());
      if (c == 0) {
        for (size_t h = 0; h < depths.size(); ++h)
          depths[h] = h == 0 ? depth : depth + depths[h] * (1 - depth);
        std::sort(depths.begin() + 1, depths.end());
      }
      for (size_t h = 0; h < names[c].size(); ++h) {
        const std::string rhs = h == 0 ? chain_values[c] : "VAR " + names[c][h - 1];
        pieces_.push_back(HaystackPiece{depths[h], "VAR " + names[c][h] + " = " + rhs + end, c == 0});
      }
    }
    answers = names[0];
    values = AnswerCountValues(spec, ExpectedAnswers(spec));
    values.query = chain_values[0];
    haystack_ = DrawHaystack(spec, rng);
  }

  Context Render(int64_t n) override { return haystack_.Render(spec_, n, pieces_); }

 private:
  const TaskSpec& spec_;
  std::vector<HaystackPiece> pieces_;
  DrawnHaystack haystack_;
};

}  // namespace

std::unique_ptr<TaskContent> DrawChainContent(const TaskSpec& spec, double depth, uint64_t seed) {
  return std::make_unique<ChainContent>(spec, depth, seed);
}

}  // namespace kvlab
