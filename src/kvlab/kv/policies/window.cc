// window: sliding window — keep the `budget` most recent tokens (Beltagy et al., "Longformer", 2020, local
// attention; the usual baseline in StreamingLLM and H2O). A ScorePolicy whose recent window is the budget.
#include "kvlab/kv/policies/policies.h"
#include "kvlab/kv/score_policy.h"
#include "kvlab/util/error.h"

namespace kvlab::policies {

namespace {
class WindowPolicy final : public ScorePolicy {
 public:
  using ScorePolicy::ScorePolicy;
  std::string Spec() const override { return "window:" + BudgetKeys(budget()) + ChunkSpec(); }
  std::unique_ptr<KvPolicy> Clone() const override { return std::make_unique<WindowPolicy>(*this); }

 protected:
  void Score(size_t, size_t, const KvCache& cache, std::span<float> out) override {
    // Everything beyond the protected recent window scores the same; ties go to newer slots anyway.
    for (float& s : out) s = 0.0f;
  }
  bool ScoresHeadsConcurrently() const override { return true; }  // positions only

 private:
  std::string ChunkSpec() const {
    return (budget().chunk ? ",chunk=" + std::to_string(budget().chunk) : "") + OptionsSpec();
  }
};
}  // namespace

std::unique_ptr<KvPolicy> MakeWindow(PolicyParams& p) {
  ScoreBudget b;
  ReadBudgetOrRatio(p, b, "tokens kept");
  if (b.ratio > 0.0) {  // the window is the ratio's budget in force, less the chunk
    b.recent_follows = true;
    b.chunk = static_cast<size_t>(p.Int("chunk", 0, 0, int64_t{1} << 30));
    CheckRatioCap("window", b);
    b.options = ReadScoreOptions(p, 0, b.sinks, 0, b.chunk, WrapperKeys::kScheduleOnly);
    return std::make_unique<WindowPolicy>(b);
  }
  b.chunk = static_cast<size_t>(p.Int("chunk", 0, 0, static_cast<int64_t>(b.budget) - 1));
  b.recent = b.budget - b.chunk;
  // As for sinks: the window is the recent window, so only the schedule and rerotate apply.
  b.options = ReadScoreOptions(p, b.budget, b.sinks, b.recent, b.chunk, WrapperKeys::kScheduleOnly);
  return std::make_unique<WindowPolicy>(b);
}

}  // namespace kvlab::policies
