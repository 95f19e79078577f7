#include "kvlab/analysis/channel_stats.h"

#include <algorithm>
#include <cmath>

#include "kvlab/util/error.h"

namespace kvlab::analysis {

ChannelStats MeasureChannels(std::span<const float> rows, size_t channels, double sparsity_threshold,
                             double outlier_factor) {
  KVLAB_CHECK(channels > 0 && rows.size() % channels == 0);
  const size_t n = rows.size() / channels;
  ChannelStats s;
  s.mean_abs.assign(channels, 0.0);
  s.max_abs.assign(channels, 0.0);
  s.rms.assign(channels, 0.0);
  s.sparsity.assign(channels, 0.0);
  double total_sq = 0;
  for (size_t r = 0; r < n; ++r) {
    for (size_t c = 0; c < channels; ++c) {
      const double x = rows[r * channels + c];
      s.mean_abs[c] += std::fabs(x);
      s.max_abs[c] = std::max(s.max_abs[c], std::fabs(x));
      s.rms[c] += x * x;
      total_sq += x * x;
    }
  }
  if (n == 0) return s;
  const double global_rms = std::sqrt(total_sq / static_cast<double>(n * channels));
  const double cut = sparsity_threshold * global_rms;
  for (size_t r = 0; r < n; ++r) {
    for (size_t c = 0; c < channels; ++c) s.sparsity[c] += std::fabs(rows[r * channels + c]) < cut ? 1 : 0;
  }
  for (size_t c = 0; c < channels; ++c) {
    s.mean_abs[c] /= static_cast<double>(n);
    s.rms[c] = std::sqrt(s.rms[c] / static_cast<double>(n));
    s.sparsity[c] /= static_cast<double>(n);
  }
  std::vector<double> sorted = s.mean_abs;
  std::sort(sorted.begin(), sorted.end());
  s.median_mean_abs =
      channels % 2 ? sorted[channels / 2] : 0.5 * (sorted[channels / 2 - 1] + sorted[channels / 2]);
  const double max_mean = sorted.back();
  s.max_over_median = s.median_mean_abs > 0 ? max_mean / s.median_mean_abs : 0.0;
  for (size_t c = 0; c < channels; ++c) {
    if (s.mean_abs[c] > outlier_factor * s.median_mean_abs && s.mean_abs[c] > 0) s.outliers.push_back(c);
  }
  return s;
}

}  // namespace kvlab::analysis
