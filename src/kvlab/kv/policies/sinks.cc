// sinks: StreamingLLM — keep the first `sinks` tokens (attention sinks) and the most recent window
// (Xiao et al., "Efficient Streaming Language Models with Attention Sinks", ICLR 2024).
#include "kvlab/kv/policies/policies.h"
#include "kvlab/kv/score_policy.h"
#include "kvlab/util/error.h"

namespace kvlab::policies {

namespace {
class SinksPolicy final : public ScorePolicy {
 public:
  using ScorePolicy::ScorePolicy;
  std::string Spec() const override {
    std::string s = "sinks:" + BudgetKeys(budget()) + ",sinks=" + std::to_string(budget().sinks);
    return (budget().chunk ? s + ",chunk=" + std::to_string(budget().chunk) : s) + OptionsSpec();
  }
  std::unique_ptr<KvPolicy> Clone() const override { return std::make_unique<SinksPolicy>(*this); }

 protected:
  void Score(size_t, size_t, const KvCache&, std::span<float> out) override {
    for (float& s : out) s = 0.0f;  // only sinks and the recent window survive
  }
  bool ScoresHeadsConcurrently() const override { return true; }  // positions only
};
}  // namespace

std::unique_ptr<KvPolicy> MakeSinks(PolicyParams& p) {
  ScoreBudget b;
  ReadBudgetOrRatio(p, b, "sinks + recent window");
  b.sinks = static_cast<size_t>(p.Int("sinks", 4, 0, int64_t{1} << 30));
  b.chunk = static_cast<size_t>(p.Int("chunk", 0, 0, int64_t{1} << 30));
  if (b.ratio > 0.0) {  // the recent window is the ratio's budget in force, less sinks and chunk
    b.recent_follows = true;
    CheckRatioCap("sinks", b);
    b.options = ReadScoreOptions(p, 0, b.sinks, 0, b.chunk, WrapperKeys::kScheduleOnly);
    return std::make_unique<SinksPolicy>(b);
  }
  if (b.sinks + b.chunk >= b.budget) {
    throw Error("--kv", "sinks: impossible budget: budget=" + std::to_string(b.budget) + " must exceed sinks (" +
                            std::to_string(b.sinks) + ") + chunk (" + std::to_string(b.chunk) + ")");
  }
  b.recent = b.budget - b.sinks - b.chunk;
  // Per-layer / per-head budgets would change the recent window, which is all this policy keeps besides
  // the sinks, so only the schedule and rerotate apply.
  b.options = ReadScoreOptions(p, b.budget, b.sinks, b.recent, b.chunk, WrapperKeys::kScheduleOnly);
  return std::make_unique<SinksPolicy>(b);
}

}  // namespace kvlab::policies
