// Budgets moved between heads and layers online by how spread out their attention is (`heads=entropy`,
// `layers=entropy`; docs/POLICIES.md). The study this lab grew from named this as its next step; the
// closest published design is CAKE (Qin et al., "CAKE: Cascading and Adaptive KV Cache Eviction with
// Layer Preferences", ICLR 2025), whose layer preference grows with the entropy of the layer's attention.
//
// Every `every` tokens the policy's total number of slots — what the uniform budget gives, n_layers ×
// n_kv_heads × budget — is split again: each unit (a head, a layer, or a head of a layer, by mode) keeps a
// floor (its sinks, recent window and chunk, plus one slot) and the rest is shared in proportion to its
// mean attention entropy, never more than `cap` × the uniform budget and never more than the tokens it
// has seen; what a capped unit cannot take goes to the others. A head whose attention is spread over
// many tokens (high entropy) needs more of them kept; one that looks at a few needs few.
//
// The entropy is sampled, not taken on every row: only rows whose query is the last position before a
// reallocation boundary (position % every == every - 1), so the cost is one -Σ p ln p per head and
// query head every `every` tokens, prefill included.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "kvlab/kv/policy.h"

namespace kvlab {

// Splits `total` slots over units with the given weights: every unit gets at least floors[i] (as long
// as caps allow), at most caps[i], the rest in proportion to weights (a unit with weight 0 keeps its
// floor), whole slots, the largest remainders first. Returns the per-unit counts; their sum is
// min(total, Σ caps) when total ≥ Σ min(floor, cap). weights.size() == floors.size() == caps.size().
std::vector<size_t> SplitByWeight(const std::vector<double>& weights, const std::vector<size_t>& floors,
                                  const std::vector<size_t>& caps, size_t total);

class EntropyBudgets {
 public:
  struct Mode {
    bool heads = false;   // heads=entropy: a layer's heads share the layer's total
    bool layers = false;  // layers=entropy: the layers share the model's total (heads of a layer alike)
  };

  void Bind(size_t n_layers, size_t n_kv_heads, Mode mode, size_t every, size_t cap);
  bool enabled() const { return mode_.heads || mode_.layers; }

  // Adds a row's entropy when its query is a sampled position. Rows of different kv heads may arrive
  // concurrently (each touches only its own accumulator).
  void Observe(const AttentionRow& row);

  // Splits again once a new block of `every` tokens has started since the last split (or the first time):
  // `uniform` is the uniform budget per head, `floor` what every head keeps regardless.
  void Update(size_t tokens_seen, size_t uniform, size_t floor);

  // The budget in force for one head (the uniform one until the first Update).
  size_t Budget(size_t layer, size_t kv_head) const { return budget_[layer * n_kv_heads_ + kv_head]; }
  // The most one head can be given: cap × uniform, and no more than its unit's total less the floors of
  // the others.
  size_t HeadBound(size_t uniform, size_t floor) const;
  // The most one layer's heads together can be given.
  size_t LayerBound(size_t uniform, size_t floor) const;
  // Mean sampled entropy (nats) of one head, 0 before any sample.
  double MeanEntropy(size_t layer, size_t kv_head) const;

  // Exact bytes of the state: per head an entropy sum, a sample count and a budget.
  size_t Bytes() const { return budget_.size() * (sizeof(double) + sizeof(uint32_t) + sizeof(size_t)); }

 private:
  size_t n_layers_ = 0, n_kv_heads_ = 0;
  Mode mode_;
  size_t every_ = 32, cap_ = 4;
  int64_t last_block_ = -1;        // tokens_seen / every at the last split
  size_t last_uniform_ = 0;        // the uniform budget it split
  std::vector<double> sum_;        // [layers * kv_heads] entropies sampled since the start
  std::vector<uint32_t> samples_;  // [layers * kv_heads]
  std::vector<size_t> budget_;     // [layers * kv_heads] budgets in force
};

}  // namespace kvlab
