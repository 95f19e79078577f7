#include "kvlab/analysis/attention_summary.h"

#include "kvlab/analysis/attention_stats.h"

namespace kvlab::analysis {

AttentionSummary SummarizeAttention(std::span<const float> map, size_t tokens,
                                    std::span<const float> thresholds) {
  AttentionSummary s;
  s.sparsity.assign(thresholds.size(), 0.0);
  for (size_t q = 1; q < tokens; ++q) {
    const std::span<const float> row = map.subspan(q * tokens, q + 1);
    s.entropy += Entropy(row);
    s.normalized_entropy += NormalizedEntropy(row);
    for (size_t i = 0; i < thresholds.size(); ++i) s.sparsity[i] += SparsityBelow(row, thresholds[i]);
    s.needed_90 += static_cast<double>(SlotsForMass(row, 0.9)) / static_cast<double>(q + 1);
    s.needed_99 += static_cast<double>(SlotsForMass(row, 0.99)) / static_cast<double>(q + 1);
    ++s.queries;
  }
  if (s.queries == 0) return s;
  const double n = static_cast<double>(s.queries);
  s.entropy /= n;
  s.normalized_entropy /= n;
  for (double& x : s.sparsity) x /= n;
  s.needed_90 /= n;
  s.needed_99 /= n;
  return s;
}

}  // namespace kvlab::analysis
