// Reductions over next-token distributions shared by the evaluation commands (docs/METRICS.md).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace kvlab {

// out[v] = logits[v] - max - log(sum exp(logits - max)), in double. out: [vocab]
void LogSoftmax(std::span<const float> logits, std::vector<double>& out);

// KL(P || Q) = sum_v p_v (log p_v - log q_v) from log-probabilities, clamped at 0 (it is >= 0 exactly; the
// clamp only removes rounding of order 1e-16). Terms with p_v = 0 contribute 0.
double KlFromLogProbs(std::span<const double> log_p, std::span<const double> log_q);

// First index of the largest value.
int32_t ArgmaxIndex(std::span<const double> v);

// Median (mean of the two middle values for an even count) and nearest-rank quantile
// (the ceil(q * n)-th smallest value) of v; 0 for an empty v. v is sorted in place.
double Median(std::vector<double>& v);
double NearestRankQuantile(std::vector<double>& v, double q);

}  // namespace kvlab
