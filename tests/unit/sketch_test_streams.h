// Synthetic streams for the sketch tests: Zipf-distributed weights over token positions, which is the
// shape accumulated attention takes (a few heavy positions, a long light tail). Built from the library's
// SplitMix64 so the data, and hence every threshold, is the same on every platform.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "kvlab/sketch/hashing.h"

namespace kvlab::sketch_test {

// weights[key] = 1 / rank^s for keys 0..n-1, ranks assigned in a seeded random order so heavy keys are
// scattered over the positions rather than all at the front.
inline std::vector<double> ZipfWeights(size_t n, double s, uint64_t seed) {
  std::vector<size_t> rank(n);
  for (size_t i = 0; i < n; ++i) rank[i] = i;
  SplitMix64 rng(seed);
  for (size_t i = n; i > 1; --i) std::swap(rank[i - 1], rank[rng.Next() % i]);  // Fisher-Yates
  std::vector<double> w(n);
  for (size_t k = 0; k < n; ++k) w[k] = 1.0 / std::pow(static_cast<double>(rank[k] + 1), s);
  return w;
}

// A stream of `length` keys drawn from the Zipf weights over keys 0..n-1 (each draw counts 1).
inline std::vector<uint64_t> ZipfStream(size_t n, double s, size_t length, uint64_t seed) {
  const std::vector<double> w = ZipfWeights(n, s, seed);
  std::vector<double> cdf(n);
  double acc = 0;
  for (size_t k = 0; k < n; ++k) cdf[k] = (acc += w[k]);
  SplitMix64 rng(seed ^ 0x5eedULL);
  std::vector<uint64_t> out(length);
  for (uint64_t& key : out) {
    const double u = rng.NextUnit() * acc;
    key = std::min<size_t>(std::lower_bound(cdf.begin(), cdf.end(), u) - cdf.begin(), n - 1);
  }
  return out;
}

}  // namespace kvlab::sketch_test
