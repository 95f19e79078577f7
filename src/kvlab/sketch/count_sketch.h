// Count Sketch: unbiased approximate per-key sums of signed weights in fixed memory.
//
// Paper: M. Charikar, K. Chen and M. Farach-Colton, "Finding frequent items in data streams",
// ICALP 2002 (journal version: Theoretical Computer Science 312(1), 2004).
//
// depth rows of width counters; row r has a pairwise independent bucket hash h_r and an independent
// pairwise independent sign hash s_r. Add(key, w) adds s_r(key) * w to C[r][h_r(key)]; one row's
// estimate s_r(key) * C[r][h_r(key)] equals x_key plus colliding keys' weights with random signs, so it
// is unbiased and its variance is at most ||x||_2^2 / width. Estimate(key) is the median over rows.
// With width = ceil(9 / eps^2) Chebyshev bounds one row's failure
//     Pr[ |row estimate - x_key| > eps * ||x||_2 ] <= 1/9,
// and the median fails only if half the rows fail: probability <= (4 * 1/9 * 8/9)^(depth/2), which
// CountSketchShape turns into a depth for a target delta. Equivalently, with any width the error stays
// within 3 * ||x||_2 / sqrt(width) per row with probability >= 8/9.
//
// Compared with Count-Min: weights may be negative, the estimate may fall on either side of the truth,
// and the error scales with ||x||_2 rather than ||x||_1, which is much smaller for skewed (attention-like)
// weights. The median needs depth values on the stack, so depth is limited to kMaxDepth.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "kvlab/sketch/counter_matrix.h"
#include "kvlab/sketch/hashing.h"

namespace kvlab {

// Shape for |error| <= eps * ||x||_2 with probability >= 1 - delta per query: width = ceil(9 / eps^2),
// depth = the smallest odd d with (32/81)^(d/2) <= delta. Throws Error unless 0 < epsilon and 0 < delta < 1.
SketchShape CountSketchShape(double epsilon, double delta);

class CountSketch {
 public:
  static constexpr size_t kMaxDepth = 64;

  // Throws Error naming the parameter when width or depth is 0, width >= 2^32 or depth > kMaxDepth.
  CountSketch(size_t width, size_t depth, uint64_t seed);
  CountSketch(SketchShape shape, uint64_t seed) : CountSketch(shape.width, shape.depth, seed) {}

  size_t width() const { return counters_.width(); }
  size_t depth() const { return counters_.depth(); }
  uint64_t seed() const { return seed_; }

  // Any finite weight, either sign (checked).
  void Add(uint64_t key, float weight);
  // Asks for the counters' cache lines (CounterMatrix::Prefetch), ahead of other work: a sketch policy asks
  // in WillObserve, before the head's attention.
  void PrefetchCounters() const { counters_.Prefetch(); }
  // Adds weights[i] to keys[i]; the spans have equal length (checked). Asks for the counters again first:
  // after an early PrefetchCounters they are in L2, the attention between having pushed them out of L1, and
  // leaving that second request out made a decode step's Observe 13-14% slower.
  void AddBatch(std::span<const uint64_t> keys, std::span<const float> weights);

  // Median over rows of the per-row estimates (mean of the two middle ones for even depth).
  float Estimate(uint64_t key) const;
  void EstimateBatch(std::span<const uint64_t> keys, std::span<float> out) const;
  // One row's estimate: an unbiased estimator of the key's sum on its own.
  float RowEstimate(size_t row, uint64_t key) const;

  // Median over rows of the sum of squared counters: an unbiased-per-row estimate of ||x||_2^2 (AMS).
  double SquaredNormEstimate() const;
  // Estimated 3 * ||x||_2 / sqrt(width): one row stays within it with probability >= 8/9.
  double ErrorBound() const;

  // Multiplies every key's sum by factor (finite, >= 0; checked). O(1) amortized.
  void Decay(double factor);
  void Clear();
  // Adds other's counts into this one; exact, since the sketch is linear. Throws Error unless other has
  // the same width, depth and seed.
  void Merge(const CountSketch& other);

  float Counter(size_t row, size_t col) const { return counters_.Get(row, col); }
  // Exact bytes of the counters: width * depth * sizeof(float).
  size_t CounterBytes() const { return counters_.Bytes(); }
  // Exact bytes of all state the sketch owns beyond its fixed-size object: counters + hash coefficients.
  size_t Bytes() const {
    return counters_.Bytes() + (bucket_hashes_.size() + sign_hashes_.size()) * sizeof(PairwiseHash);
  }

 private:
  uint64_t seed_;
  std::vector<PairwiseHash> bucket_hashes_;  // [depth]
  std::vector<PairwiseHash> sign_hashes_;    // [depth], drawn after all bucket hashes: independent of them
  CounterMatrix counters_;                   // [depth][width]
};

}  // namespace kvlab
