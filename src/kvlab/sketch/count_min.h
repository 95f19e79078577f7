// Count-Min Sketch: approximate per-key sums of non-negative weights in fixed memory.
//
// Paper: G. Cormode and S. Muthukrishnan, "An improved data stream summary: the count-min sketch and its
// applications", Journal of Algorithms 55(1), 2005.
//
// depth rows of width counters; row r has its own pairwise independent hash h_r. Add(key, w) adds w to
// C[r][h_r(key)] in every row; Estimate(key) = min_r C[r][h_r(key)]. Because weights are non-negative
// every counter a key touches holds at least the key's own total x_key, so the estimate never
// underestimates, and with width w = ceil(e / eps), depth d = ceil(ln(1 / delta)):
//     Pr[ Estimate(key) - x_key > eps * ||x||_1 ] <= delta      (for each query key)
// (Markov on one row gives 1/e, the rows are independent.) ErrorBound() returns that eps * ||x||_1.
//
// Conservative update (Estan and Varghese, "New directions in traffic measurement and accounting",
// SIGCOMM 2002) raises each touched counter only up to Estimate(key) + w. Counters then stay elementwise
// <= the plain sketch's on the same stream, so estimates are never worse and still never underestimate;
// the price is that the sketch is no longer linear, so Merge of two conservative sketches is only an
// upper bound (still >= the true sum), not the sketch of the concatenated stream.
//
// In kvlab the key is a token position and the weight the attention that token received (H2O's
// accumulated-attention score), one sketch per (layer, kv head); Decay(f) turns the sum into an
// exponentially time-decayed score in O(1).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "kvlab/sketch/counter_matrix.h"
#include "kvlab/sketch/hashing.h"

namespace kvlab {

// Shape for a target additive error eps * ||x||_1 with failure probability delta per query:
// width = ceil(e / epsilon), depth = ceil(ln(1 / delta)). Throws Error unless 0 < epsilon and 0 < delta < 1.
SketchShape CountMinShape(double epsilon, double delta);

class CountMinSketch {
 public:
  // Throws Error naming the parameter when width or depth is 0 (or width >= 2^32).
  CountMinSketch(size_t width, size_t depth, uint64_t seed, bool conservative = false);
  CountMinSketch(SketchShape shape, uint64_t seed, bool conservative = false)
      : CountMinSketch(shape.width, shape.depth, seed, conservative) {}

  size_t width() const { return counters_.width(); }
  size_t depth() const { return counters_.depth(); }
  uint64_t seed() const { return seed_; }
  bool conservative() const { return conservative_; }

  // weight >= 0 and finite (checked: a negative weight would void the never-underestimate guarantee).
  void Add(uint64_t key, float weight);
  // Asks for the counters' cache lines (CounterMatrix::Prefetch), ahead of other work: a sketch policy asks
  // in WillObserve, before the head's attention.
  void PrefetchCounters() const { counters_.Prefetch(); }
  // Adds weights[i] to keys[i]; the spans have equal length (checked). Asks for the counters again first:
  // after an early PrefetchCounters they are in L2, the attention between having pushed them out of L1, and
  // leaving that second request out made a decode step's Observe 13-14% slower.
  void AddBatch(std::span<const uint64_t> keys, std::span<const float> weights);

  // Never below the true (decayed) sum of the key's weights, up to float rounding.
  float Estimate(uint64_t key) const;
  void EstimateBatch(std::span<const uint64_t> keys, std::span<float> out) const;

  // Sum of all weights added, decayed like the counters: the ||x||_1 of the bound.
  double TotalWeight() const { return total_; }
  // eps * ||x||_1 for this width: overestimates exceed it with probability <= exp(-depth) per query.
  double ErrorBound() const;

  // Multiplies every key's sum by factor (finite, >= 0; checked). O(1) amortized.
  void Decay(double factor);
  void Clear();
  // Adds other's counts into this one, as if other's stream had been added here. Throws Error unless
  // other has the same width, depth and seed (otherwise its counters mean different keys).
  void Merge(const CountMinSketch& other);

  // Real value of counter (row, col), for inspection and tests.
  float Counter(size_t row, size_t col) const { return counters_.Get(row, col); }
  // Exact bytes of the counters: width * depth * sizeof(float).
  size_t CounterBytes() const { return counters_.Bytes(); }
  // Exact bytes of all state the sketch owns beyond its fixed-size object: counters + hash coefficients.
  size_t Bytes() const { return counters_.Bytes() + hashes_.size() * sizeof(PairwiseHash); }

 private:
  uint64_t seed_;
  bool conservative_;
  double total_ = 0.0;
  std::vector<PairwiseHash> hashes_;  // [depth] one bucket hash per row
  CounterMatrix counters_;            // [depth][width]
};

}  // namespace kvlab
