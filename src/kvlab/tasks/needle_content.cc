// Needle tasks (RULER niah.py, passkey): keys with values_per_key values each, `queries` keys asked for, the
// rest distractors; in an essay, noise lines, or lines of distractor needles with fresh keys and values.
#include <algorithm>
#include <numeric>

#include "kvlab/tasks/task_content.h"
#include "kvlab/tasks/task_items.h"
#include "kvlab/tasks/task_spec_check.h"
#include "kvlab/util/error.h"

namespace kvlab {

namespace {

class NeedleContent final : public TaskContent {
 public:
  NeedleContent(const TaskSpec& spec, double depth, uint64_t seed) : spec_(spec) {
    TaskRng rng(seed);
    if (spec.key_kind == ItemKind::kWords || spec.value_kind == ItemKind::kWords) {
      words_ = LoadEssayWords(spec);
      if (words_->size() < 2) {
        throw Error("task " + spec.name, "haystack file '" + spec.haystack_file +
                                             "' has fewer than 2 lower-case words to make word keys from");
      }
    }
    const auto draw = [&](ItemKind kind, int digits, const char* what) {
      std::optional<std::string> item = items_.Draw(kind, digits, Words(), rng);
      if (!item) {
        throw Error("task " + spec.name, std::string("cannot draw enough distinct ") + what + " (" +
                                             std::to_string(spec.keys) + " keys x " +
                                             std::to_string(spec.values_per_key) + " values)");
      }
      return *item;
    };
    // Keys, then each key's values, then which keys are asked for (in the order they are asked).
    std::vector<std::string> keys;
    for (int k = 0; k < spec.keys; ++k) {
      keys.push_back(spec.key_kind == ItemKind::kNone ? std::string()
                                                      : draw(spec.key_kind, spec.key_digits, "keys"));
    }
    std::vector<std::vector<std::string>> key_values(keys.size());
    for (auto& v : key_values) {
      for (int i = 0; i < spec.values_per_key; ++i)
        v.push_back(draw(spec.value_kind, spec.value_digits, "values"));
    }
    std::vector<size_t> order(keys.size());
    std::iota(order.begin(), order.end(), 0);
    for (int q = 0; q < spec.queries; ++q) std::swap(order[q], order[q + rng.Below(order.size() - q)]);
    const std::vector<size_t> asked(order.begin(), order.begin() + spec.queries);

    std::vector<std::string> asked_keys;
    for (size_t k : asked) asked_keys.push_back(keys[k]);
    values_ = AnswerCountValues(spec, ExpectedAnswers(spec));
    values_.query = JoinQuery(asked_keys);
    values = values_;
    // The asked-for needles first (the first one goes to `depth`), then the distractors.
    for (size_t k : asked) {
      for (const std::string& v : key_values[k]) {
        pieces_.push_back(HaystackPiece{0, NeedleText(keys[k], v), true});
        answers.push_back(v);
      }
    }
    for (size_t k : order) {
      if (std::find(asked.begin(), asked.end(), k) != asked.end()) continue;
      for (const std::string& v : key_values[k])
        pieces_.push_back(HaystackPiece{0, NeedleText(keys[k], v), false});
    }
    for (size_t i = 0; i < pieces_.size(); ++i) pieces_[i].depth = i == 0 ? depth : rng.Fraction();

    if (spec.haystack == HaystackKind::kNeedles) {
      line_rng_.emplace(rng.Next());  // the lines' own stream: line i is the same whatever n is
    } else {
      haystack_ = DrawHaystack(spec, rng);
    }
  }

  Context Render(int64_t n) override {
    if (spec_.haystack != HaystackKind::kNeedles) return haystack_.Render(spec_, n, pieces_);
    Cap(n);
    return RenderLines([this](int64_t i) { return lines_[static_cast<size_t>(i)]; }, n, pieces_);
  }

  // A needles haystack grows line by line; each line takes a key and a value no other needle has, so a small
  // item space (letters, few digits) ends it.
  int64_t Cap(int64_t want) override {
    if (spec_.haystack != HaystackKind::kNeedles) return want;
    while (static_cast<int64_t>(lines_.size()) < want && !exhausted_) {
      std::optional<std::string> key =
          spec_.key_kind == ItemKind::kNone
              ? std::optional<std::string>("")
              : items_.Draw(spec_.key_kind, spec_.key_digits, Words(), *line_rng_, 100);
      std::optional<std::string> value =
          key ? items_.Draw(spec_.value_kind, spec_.value_digits, Words(), *line_rng_, 100) : std::nullopt;
      if (!value) {
        exhausted_ = true;
        break;
      }
      lines_.push_back(NeedleText(*key, *value));
    }
    return std::min<int64_t>(want, static_cast<int64_t>(lines_.size()));
  }

 private:
  const std::vector<std::string>& Words() const {
    static const std::vector<std::string> kNoWords;
    return words_ != nullptr ? *words_ : kNoWords;
  }
  // RULER formats needles with its plural noun (before the single-answer rewrite of the template).
  std::string NeedleText(const std::string& key, const std::string& value) const {
    TemplateValues v = values_;
    v.values = spec_.value_noun;
    v.some = "Some";
    v.are = "are";
    v.are_all = "are all";
    v.key = key;
    v.value = value;
    return ExpandTemplate(spec_.needle, v);
  }

  const TaskSpec& spec_;
  std::shared_ptr<const std::vector<std::string>> words_;
  DistinctItems items_;
  TemplateValues values_;
  std::vector<HaystackPiece> pieces_;
  DrawnHaystack haystack_;
  std::optional<TaskRng> line_rng_;
  std::vector<std::string> lines_;
  bool exhausted_ = false;
};

}  // namespace

std::unique_ptr<TaskContent> DrawNeedleContent(const TaskSpec& spec, double depth, uint64_t seed) {
  return std::make_unique<NeedleContent>(spec, depth, seed);
}

}  // namespace kvlab
