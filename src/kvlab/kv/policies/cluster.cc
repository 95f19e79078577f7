// cluster: exact attention sinks + exact recent window; every older token is merged into one of
// `summaries` summary slots (mean key, mean value, member count) instead of being dropped, chosen by
// online k-means on the keys or by the keys' SimHash bucket (see summary_policy.h). The idea of attending
// to merged/clustered KV instead of evicting follows CaM (Zhang et al., "CaM: Cache Merging for Memory-
// efficient LLMs Inference", ICML 2024) and D2O / KVMerger-style merging; the q·k̄ + log(count) logit is
// the standard correction that makes one mean-key slot weigh like its `count` members.
//
// Keys: budget (or ratio, see score_policy.h), summaries (16), sinks (4), chunk (0), assign=kmeans|lsh, metric=cosine|l2
// (kmeans), seed (lsh). The recent window is what is left: budget - sinks - summaries - chunk (> 0).
#include "kvlab/kv/policies/policies.h"
#include "kvlab/kv/policies/summary_policy.h"
#include "kvlab/util/error.h"

namespace kvlab::policies {

namespace {
class ClusterPolicy final : public SummaryPolicy {
 public:
  using SummaryPolicy::SummaryPolicy;
  std::string Spec() const override {
    std::string s = "cluster:" + BudgetKeys(budget()) + ",sinks=" + std::to_string(budget().sinks);
    if (budget().chunk) s += ",chunk=" + std::to_string(budget().chunk);
    return s + SummarySpec(summary_options());
  }
  std::unique_ptr<KvPolicy> Clone() const override { return std::make_unique<ClusterPolicy>(*this); }

 protected:
  void Score(size_t, size_t, const KvCache&, std::span<float> out) override {
    // No exact slots beyond sinks + recent: every candidate scores the same, all of them are summarized.
    for (float& s : out) s = 0.0f;
  }
  bool ScoresHeadsConcurrently() const override { return true; }
};
}  // namespace

std::unique_ptr<KvPolicy> MakeCluster(PolicyParams& p) {
  constexpr int64_t kMax = int64_t{1} << 30;
  ScoreBudget b;
  ReadBudgetOrRatio(p, b, "sinks + summaries + recent window");
  b.sinks = static_cast<size_t>(p.Int("sinks", 4, 0, kMax));
  b.chunk = static_cast<size_t>(p.Int("chunk", 0, 0, kMax));
  if (b.ratio > 0.0) {  // the recent window is what the budget in force leaves
    const SummaryOptions o = ReadSummaryOptions(p, 0, 0);
    b.reserved = o.summaries;
    b.recent_follows = true;
    CheckRatioCap("cluster", b);
    return std::make_unique<ClusterPolicy>(b, o);
  }
  // The recent window gets whatever the summaries leave; it must keep at least the newest token exact.
  const SummaryOptions o = ReadSummaryOptions(p, b.budget, b.sinks + b.chunk + 1);
  b.recent = b.budget - b.sinks - b.chunk - o.summaries;
  return std::make_unique<ClusterPolicy>(b, o);
}

}  // namespace kvlab::policies
