// ScorePolicy: the shared shape of eviction policies — score every slot, always keep the attention sinks
// and the recent window, fill the rest of the budget with the highest scores. A policy is then a few lines
// (its Score), as kvpress's ScorerPress. Written once here: sink/recent protection, amortized eviction in
// chunks, and stable compaction of any per-slot state the policy keeps.
//
// Common spec keys: budget (slots per head, required), sinks (first positions always kept, default 0),
// recent (most recent slots always kept, default 0), chunk (evict down to budget - chunk when the budget
// is exceeded, so eviction runs once every chunk+1 tokens instead of every token; default 0).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "kvlab/kv/policy.h"
#include "kvlab/kv/spec.h"

namespace kvlab {

struct ScoreBudget {
  size_t budget = 0;
  size_t sinks = 0;
  size_t recent = 0;
  size_t chunk = 0;
};

// Reads budget/sinks/recent/chunk with the given defaults and checks budget >= sinks + recent + chunk.
ScoreBudget ReadScoreBudget(PolicyParams& p, size_t default_sinks, size_t default_recent);

class ScorePolicy : public KvPolicy {
 public:
  explicit ScorePolicy(const ScoreBudget& b) : budget_(b) {}
  size_t MaxSlots() const override { return budget_.budget; }
  void Compress(size_t layer, KvCache& cache) final;
  const ScoreBudget& budget() const { return budget_; }

 protected:
  // Scores the live slots of one head; higher = more worth keeping. out.size() == cache.Size(layer, head).
  virtual void Score(size_t layer, size_t kv_head, const KvCache& cache, std::span<float> out) = 0;
  // Called after this policy evicted slots of one head, so per-slot state can follow.
  virtual void OnEvicted(size_t layer, size_t kv_head, const KvCache& cache) {}
  // "budget=..,sinks=..,recent=..,chunk=.." for Spec().
  std::string BudgetSpec() const;

 private:
  ScoreBudget budget_;
  // Scratch reused across calls (Compress runs one layer at a time), so eviction allocates nothing.
  std::vector<float> scores_;
  std::vector<std::pair<float, uint32_t>> candidates_;
  std::vector<uint32_t> kept_;
};

}  // namespace kvlab
