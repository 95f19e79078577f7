// Needle retention: how much of a needle the KV cache still holds when the final question begins — the
// necessary condition for retrieving it, measurable on any model (docs/TASKS.md).
//
// A needle token p counts, per (layer, kv head), as
//   held    a slot at position p with count 1 (f32 or quantized: a quantized slot is still the token);
//   merged  p's information lives in a summary slot (count > 1): p founded it, or was folded into a slot
//           that is still live (through any chain of merges; MergeTracker follows them);
//   evicted otherwise.
#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "kvlab/kv/cache.h"
#include "kvlab/tasks/task_prompt.h"

namespace kvlab {

// Records where merged tokens went: set as the cache's merge observer for the whole stream.
class MergeTracker final : public KvMergeObserver {
 public:
  MergeTracker(size_t n_layers, size_t n_kv_heads) : n_kv_heads_(n_kv_heads), into_(n_layers * n_kv_heads) {}
  void OnMerge(size_t layer, size_t head, int32_t into_pos, int32_t from_pos) override;
  // The position whose slot holds p's information now, if p was merged (following chains); p otherwise.
  int32_t Root(size_t layer, size_t head, int32_t pos) const;

 private:
  size_t n_kv_heads_;
  std::vector<std::unordered_map<int32_t, int32_t>>
      into_;  // [layers][kv_heads] from position -> into position
};

struct NeedleRetention {
  int64_t needle_tokens = 0;  // tokens of the spans measured (each counted once per head)
  double held = 0;  // fractions over every (layer, kv head, needle token); held + merged + evicted = 1
  double merged = 0;
  std::vector<double> held_by_layer;              // [layers]
  std::vector<std::vector<double>> held_by_head;  // [layers][kv_heads]
  std::vector<double> merged_by_layer;            // [layers]
};

// Retention of the tokens in `spans` (positions = token indices) in `cache` now. `tracker` may be null when
// the policy never merges. Spans with no tokens give needle_tokens = 0 and zero fractions.
NeedleRetention MeasureNeedleRetention(const KvCache& cache, const std::vector<TokenSpan>& spans,
                                       const MergeTracker* tracker);

}  // namespace kvlab
