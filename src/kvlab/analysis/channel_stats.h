// Per-channel (embedding dimension) statistics of K or V rows: which channels carry large magnitudes.
// Keys of Llama-family models have a few outlier channels (RoPE pairs with large norms), values do not —
// the observation behind KIVI quantizing keys per channel and values per token.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

namespace kvlab::analysis {

struct ChannelStats {
  std::vector<double> mean_abs;  // [channels] mean |x| over rows
  std::vector<double> max_abs;   // [channels]
  std::vector<double> rms;       // [channels] sqrt(mean x^2): the energy a channel carries
  std::vector<double> sparsity;  // [channels] fraction of rows with |x| < threshold * (rms over all channels)
  std::vector<size_t> outliers;  // channels with mean_abs > outlier_factor * median(mean_abs), ascending
  double median_mean_abs = 0;
  double max_over_median = 0;  // max(mean_abs) / median(mean_abs): how outlier-dominated the tensor is
};

// rows: [n_rows][channels] row-major.
ChannelStats MeasureChannels(std::span<const float> rows, size_t channels, double sparsity_threshold = 0.1,
                             double outlier_factor = 3.0);

}  // namespace kvlab::analysis
