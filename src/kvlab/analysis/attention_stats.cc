#include "kvlab/analysis/attention_stats.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

namespace kvlab::analysis {

double Entropy(std::span<const float> probs) {
  double h = 0;
  for (float p : probs) {
    if (p > 0) h -= static_cast<double>(p) * std::log(static_cast<double>(p));
  }
  return h;
}

double NormalizedEntropy(std::span<const float> probs) {
  if (probs.size() <= 1) return 0.0;
  return Entropy(probs) / std::log(static_cast<double>(probs.size()));
}

double SparsityBelow(std::span<const float> probs, float threshold) {
  if (probs.empty()) return 0.0;
  size_t below = 0;
  for (float p : probs) below += p < threshold ? 1 : 0;
  return static_cast<double>(below) / static_cast<double>(probs.size());
}

size_t SlotsForMass(std::span<const float> probs, double mass) {
  std::vector<float> sorted(probs.begin(), probs.end());
  std::sort(sorted.begin(), sorted.end(), std::greater<float>());
  double sum = 0;
  for (size_t i = 0; i < sorted.size(); ++i) {
    sum += sorted[i];
    if (sum >= mass - 1e-9) return i + 1;
  }
  return sorted.size();
}

}  // namespace kvlab::analysis
