#include "kvlab/eval/distribution_stats.h"

#include <algorithm>
#include <cmath>

namespace kvlab {

void LogSoftmax(std::span<const float> logits, std::vector<double>& out) {
  out.resize(logits.size());
  double mx = -INFINITY;
  for (float x : logits) mx = std::max<double>(mx, x);
  double z = 0;
  for (float x : logits) z += std::exp(static_cast<double>(x) - mx);
  const double log_z = mx + std::log(z);
  for (size_t v = 0; v < logits.size(); ++v) out[v] = static_cast<double>(logits[v]) - log_z;
}

double KlFromLogProbs(std::span<const double> log_p, std::span<const double> log_q) {
  double kl = 0;
  for (size_t v = 0; v < log_p.size(); ++v) {
    const double p = std::exp(log_p[v]);
    if (p > 0) kl += p * (log_p[v] - log_q[v]);
  }
  return std::max(kl, 0.0);
}

int32_t ArgmaxIndex(std::span<const double> v) {
  return static_cast<int32_t>(std::max_element(v.begin(), v.end()) - v.begin());
}

double Median(std::vector<double>& v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double NearestRankQuantile(std::vector<double>& v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const double rank = std::ceil(q * static_cast<double>(v.size()));
  const size_t idx = rank < 1 ? 0 : std::min(v.size() - 1, static_cast<size_t>(rank) - 1);
  return v[idx];
}

}  // namespace kvlab
