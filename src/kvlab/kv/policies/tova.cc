// tova: Token Omission Via Attention (Oren et al., "Transformers are Multi-State RNNs", 2024). Scores each
// slot by the attention of the CURRENT query only (averaged over the query heads sharing the kv head),
// so the cache is the state a greedy multi-state RNN would keep.
#include "kvlab/kv/policies/attention_scores.h"
#include "kvlab/kv/policies/policies.h"

namespace kvlab::policies {

namespace {
class TovaPolicy final : public AttentionScorePolicy {
 public:
  using AttentionScorePolicy::AttentionScorePolicy;
  std::string Spec() const override { return "tova:" + BudgetSpec(); }
  void OnBind(const KvCacheShape& shape) override {
    AttentionScorePolicy::OnBind(shape);
    last_query_.assign(shape.n_layers * shape.n_kv_heads, -1);
    n_kv_heads_ = shape.n_kv_heads;
  }
  void ObserveScores(const AttentionRow& row) override {
    std::vector<float>& s = scores_.Sync(row.layer, row.kv_head, row.slots);
    int32_t& last = last_query_[row.layer * n_kv_heads_ + row.kv_head];
    if (row.query_pos != last) {  // a newer query: forget the previous one's row
      std::fill(s.begin(), s.end(), 0.0f);
      last = row.query_pos;
    }
    for (size_t i = 0; i < row.probs.size(); ++i) s[i] += row.probs[i];
  }
  size_t ScoreMetadataBytes() const override {
    return AttentionScorePolicy::ScoreMetadataBytes() + last_query_.size() * sizeof(int32_t);
  }
  std::unique_ptr<KvPolicy> Clone() const override { return std::make_unique<TovaPolicy>(*this); }

 private:
  std::vector<int32_t> last_query_;  // [layers * kv_heads] position of the query the scores belong to
  size_t n_kv_heads_ = 0;
};
}  // namespace

std::unique_ptr<KvPolicy> MakeTova(PolicyParams& p) { return std::make_unique<TovaPolicy>(ReadScoreBudget(p, 0, 0)); }

}  // namespace kvlab::policies
