// knorm: keep the keys with the LOWEST L2 norm (Devoto et al., "A Simple and Effective L2 Norm-Based
// Strategy for KV Cache Compression", EMNLP 2024: low-norm keys draw high attention). Needs no attention
// rows, so it works with fused attention kernels too.
#include <cmath>
#include <vector>

#include "kvlab/kv/policies/policies.h"
#include "kvlab/kv/score_policy.h"

namespace kvlab::policies {

namespace {
class KeyNormPolicy final : public ScorePolicy {
 public:
  using ScorePolicy::ScorePolicy;
  std::string Spec() const override { return "knorm:" + BudgetSpec(); }
  std::unique_ptr<KvPolicy> Clone() const override { return std::make_unique<KeyNormPolicy>(*this); }

 protected:
  void Score(size_t layer, size_t head, const KvCache& cache, std::span<float> out) override {
    const size_t d = cache.head_dim();
    scratch_.resize(d);  // once: head_dim never changes
    for (size_t i = 0; i < out.size(); ++i) {
      // KeyRow: the stored key (decoded when the cache is quantized), so the norm is of what attention sees.
      const float* key = cache.KeyRow(layer, head, i, scratch_.data());
      double ss = 0;
      for (size_t j = 0; j < d; ++j) ss += static_cast<double>(key[j]) * key[j];
      out[i] = -static_cast<float>(std::sqrt(ss));  // higher score = lower norm = kept
    }
  }

 private:
  std::vector<float> scratch_;  // one decoded key
};
}  // namespace

std::unique_ptr<KvPolicy> MakeKeyNorm(PolicyParams& p) {
  return std::make_unique<KeyNormPolicy>(ReadScoreBudget(p, 0, 0));
}

}  // namespace kvlab::policies
