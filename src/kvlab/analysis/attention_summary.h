// Aggregates of one head's attention map over all its queries: what `layers` and `heads` report.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

namespace kvlab::analysis {

struct AttentionSummary {
  double entropy = 0;             // mean over queries, nats
  double normalized_entropy = 0;  // mean of entropy / log(visible slots)
  std::vector<double> sparsity;   // [thresholds] mean fraction of visible slots with p < threshold
  double needed_90 = 0;           // mean fraction of visible slots needed to hold 90% of the mass
  double needed_99 = 0;           // ... 99%
  size_t queries = 0;
};

// map: [tokens][tokens] (row = query). Queries 1..tokens-1 (query 0 sees one slot and says nothing).
AttentionSummary SummarizeAttention(std::span<const float> map, size_t tokens,
                                    std::span<const float> thresholds);

}  // namespace kvlab::analysis
