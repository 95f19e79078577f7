// h2o: Heavy-Hitter Oracle (Zhang et al., "H2O: Heavy-Hitter Oracle for Efficient Generative Inference of
// Large Language Models", NeurIPS 2023). A slot's score is the attention it has received so far, summed
// over every query and over the query heads sharing its kv head; keep the heavy hitters + a recent window.
#include "kvlab/kv/policies/attention_scores.h"
#include "kvlab/kv/policies/policies.h"

namespace kvlab::policies {

namespace {
class H2oPolicy final : public AttentionScorePolicy {
 public:
  using AttentionScorePolicy::AttentionScorePolicy;
  std::string Spec() const override { return "h2o:" + BudgetSpec(); }
  void ObserveScores(const AttentionRow& row) override {
    std::vector<float>& s = scores_.Sync(row.layer, row.kv_head, row.slots);
    for (size_t i = 0; i < row.probs.size(); ++i) s[i] += row.probs[i];
  }
  std::unique_ptr<KvPolicy> Clone() const override { return std::make_unique<H2oPolicy>(*this); }
};
}  // namespace

std::unique_ptr<KvPolicy> MakeH2o(PolicyParams& p) { return std::make_unique<H2oPolicy>(ReadScoreBudget(p, 0, 0)); }

}  // namespace kvlab::policies
