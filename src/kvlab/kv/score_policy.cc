#include "kvlab/kv/score_policy.h"

#include <algorithm>

#include "kvlab/util/error.h"

namespace kvlab {

ScoreBudget ReadScoreBudget(PolicyParams& p, size_t default_sinks, size_t default_recent) {
  constexpr int64_t kMax = int64_t{1} << 30;
  if (!p.Has("budget")) throw Error("--kv", p.policy() + ": needs budget=N (slots kept per head)");
  ScoreBudget b;
  b.budget = static_cast<size_t>(p.Int("budget", 0, 1, kMax));
  b.sinks = static_cast<size_t>(p.Int("sinks", static_cast<int64_t>(default_sinks), 0, kMax));
  b.recent = static_cast<size_t>(p.Int("recent", static_cast<int64_t>(default_recent), 0, kMax));
  b.chunk = static_cast<size_t>(p.Int("chunk", 0, 0, kMax));
  if (b.sinks + b.recent + b.chunk > b.budget) {
    throw Error("--kv", p.policy() + ": impossible budget: budget=" + std::to_string(b.budget) + " < sinks (" +
                            std::to_string(b.sinks) + ") + recent (" + std::to_string(b.recent) + ") + chunk (" +
                            std::to_string(b.chunk) + ")");
  }
  return b;
}

std::string ScorePolicy::BudgetSpec() const {
  std::string s = "budget=" + std::to_string(budget_.budget);
  if (budget_.sinks) s += ",sinks=" + std::to_string(budget_.sinks);
  if (budget_.recent) s += ",recent=" + std::to_string(budget_.recent);
  if (budget_.chunk) s += ",chunk=" + std::to_string(budget_.chunk);
  return s;
}

void ScorePolicy::Compress(size_t layer, KvCache& cache) {
  for (size_t head = 0; head < cache.n_kv_heads(); ++head) {
    const size_t n = cache.Size(layer, head);
    if (n <= budget_.budget) continue;
    const size_t target = budget_.budget - budget_.chunk;
    std::span<const SlotMeta> meta = cache.Meta(layer, head);
    scores_.resize(n);
    Score(layer, head, cache, scores_);

    // Protected: sinks (the first positions of the stream) and the `recent` newest slots.
    const size_t recent_from = n - std::min(n, budget_.recent);
    size_t n_protected = 0;
    candidates_.clear();
    for (size_t i = 0; i < n; ++i) {
      const bool is_protected = static_cast<size_t>(meta[i].pos) < budget_.sinks || i >= recent_from;
      if (is_protected) {
        ++n_protected;
      } else {
        candidates_.emplace_back(scores_[i], static_cast<uint32_t>(i));
      }
    }
    // Highest scores first; among equal scores the newer slot wins (deterministic).
    const size_t take = std::min(candidates_.size(), target > n_protected ? target - n_protected : 0);
    auto better = [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second > b.second); };
    std::nth_element(candidates_.begin(), candidates_.begin() + take, candidates_.end(), better);

    kept_.clear();
    for (size_t c = 0; c < take; ++c) kept_.push_back(candidates_[c].second);
    for (size_t i = 0; i < n; ++i) {
      if (static_cast<size_t>(meta[i].pos) < budget_.sinks || i >= recent_from) kept_.push_back(static_cast<uint32_t>(i));
    }
    std::sort(kept_.begin(), kept_.end());
    cache.Keep(layer, head, kept_);
    OnEvicted(layer, head, cache);
  }
}

}  // namespace kvlab
