// random: evict uniformly at random outside the protected sinks/recent slots — the floor any scoring
// policy must beat (used as a baseline in H2O, Zhang et al. 2023, and SnapKV, Li et al. 2024).
#include <random>

#include "kvlab/kv/policies/policies.h"
#include "kvlab/kv/score_policy.h"

namespace kvlab::policies {

namespace {
class RandomPolicy final : public ScorePolicy {
 public:
  RandomPolicy(const ScoreBudget& b, uint64_t seed) : ScorePolicy(b), seed_(seed), rng_(seed) {}
  std::string Spec() const override { return "random:" + BudgetSpec() + ",seed=" + std::to_string(seed_); }
  std::unique_ptr<KvPolicy> Clone() const override { return std::make_unique<RandomPolicy>(*this); }

 protected:
  void Score(size_t, size_t, const KvCache&, std::span<float> out) override {
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    for (float& s : out) s = u(rng_);
  }

 private:
  uint64_t seed_;
  std::mt19937_64 rng_;  // copied by Clone, so clones evict identically
};
}  // namespace

std::unique_ptr<KvPolicy> MakeRandom(PolicyParams& p) {
  const ScoreBudget b = ReadScoreBudget(p, 0, 0);
  const auto seed = static_cast<uint64_t>(p.Int("seed", 0, 0, INT64_MAX));
  return std::make_unique<RandomPolicy>(b, seed);
}

}  // namespace kvlab::policies
