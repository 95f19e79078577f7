#include "kvlab/sketch/count_min.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <string>

#include "kvlab/util/error.h"

namespace kvlab {

SketchShape CountMinShape(double epsilon, double delta) {
  if (!(epsilon > 0.0) || !std::isfinite(epsilon)) {
    throw Error("CountMinShape: epsilon", "must be > 0, got " + std::to_string(epsilon),
                "epsilon is the additive error as a fraction of the total weight");
  }
  if (!(delta > 0.0 && delta < 1.0)) {
    throw Error("CountMinShape: delta", "must be in (0, 1), got " + std::to_string(delta),
                "delta is the probability that one query exceeds the error bound");
  }
  // A hair below the exact ratio so that e.g. e / (e / 100) does not round up to 101.
  const double w = std::ceil(std::numbers::e / epsilon * (1.0 - 1e-12));
  const double d = std::ceil(std::log(1.0 / delta) * (1.0 - 1e-12));
  if (w > static_cast<double>(std::numeric_limits<uint32_t>::max())) {
    throw Error("CountMinShape: epsilon", "too small: width " + std::to_string(w) + " exceeds 2^32 - 1");
  }
  return {static_cast<size_t>(w), std::max<size_t>(1, static_cast<size_t>(d))};
}

CountMinSketch::CountMinSketch(size_t width, size_t depth, uint64_t seed, bool conservative)
    : seed_(seed),
      conservative_(conservative),
      counters_(ValidateSketchShape("CountMinSketch", width, depth)) {
  SplitMix64 rng(seed);
  hashes_.reserve(depth);
  for (size_t r = 0; r < depth; ++r) hashes_.emplace_back(rng);
}

void CountMinSketch::Add(uint64_t key, float weight) {
  KVLAB_CHECK(weight >= 0.0f && std::isfinite(weight));
  total_ += weight;
  const uint32_t w = static_cast<uint32_t>(width());
  if (!conservative_) {
    for (size_t r = 0; r < hashes_.size(); ++r) counters_.Add(r, hashes_[r].Bucket(key, w), weight);
    return;
  }
  // Conservative update: no counter needs to exceed (smallest counter + weight), since the smallest
  // counter already upper-bounds the key's previous sum. Works in stored units (common scale).
  // Hashing twice (two multiplies per row) is cheaper than a scratch buffer sized for any depth.
  float floor = std::numeric_limits<float>::infinity();
  for (size_t r = 0; r < hashes_.size(); ++r) {
    floor = std::min(floor, counters_.Stored(r, hashes_[r].Bucket(key, w)));
  }
  const float target = floor + counters_.ToStored(weight);
  for (size_t r = 0; r < hashes_.size(); ++r) {
    float& c = counters_.MutableStored(r, hashes_[r].Bucket(key, w));
    c = std::max(c, target);
  }
}

void CountMinSketch::AddBatch(std::span<const uint64_t> keys, std::span<const float> weights) {
  KVLAB_CHECK(keys.size() == weights.size());
  if (conservative_) {  // each update reads the counters the previous one wrote: no batching
    for (size_t i = 0; i < keys.size(); ++i) Add(keys[i], weights[i]);
    return;
  }
  // Same sums as Add one key at a time: a weight is converted to stored units once (not once per row), and
  // the scattered adds, what a policy's per-step Observe over a few hundred slots spends its time on, go
  // four rows per pass over the keys (CounterMatrix::ScatterAdd).
  counters_.Prefetch();
  const uint32_t w = static_cast<uint32_t>(width());
  constexpr size_t kBlock = 256;
  constexpr size_t kRows = CounterMatrix::kScatterRows;
  static_assert(kRows == 4 && kRows <= PairwiseHash::kMaxSignedRows, "the row pointers below name four rows");
  float stored[kBlock];
  uint32_t buckets[kRows][kBlock];  // one group of rows' buckets
  uint32_t* const bucket_rows[kRows] = {buckets[0], buckets[1], buckets[2], buckets[3]};
  const float* values[kRows] = {stored, stored, stored, stored};  // every row adds the same weight
  for (size_t begin = 0; begin < keys.size(); begin += kBlock) {
    const size_t n = std::min(kBlock, keys.size() - begin);
    total_ += counters_.ToStoredBatch(weights.data() + begin, n, /*nonnegative=*/true, stored);
    for (size_t first = 0; first < hashes_.size(); first += kRows) {
      const size_t count = std::min(kRows, hashes_.size() - first);
      PairwiseHash::BucketsOfRows(&hashes_[first], count, keys.data() + begin, n, w, bucket_rows);
      counters_.ScatterAdd(first, count, bucket_rows, values, n);
    }
  }
}

float CountMinSketch::Estimate(uint64_t key) const {
  const uint32_t w = static_cast<uint32_t>(width());
  float best = std::numeric_limits<float>::infinity();
  for (size_t r = 0; r < hashes_.size(); ++r) {
    best = std::min(best, counters_.Stored(r, hashes_[r].Bucket(key, w)));
  }
  return counters_.FromStored(best);
}

void CountMinSketch::EstimateBatch(std::span<const uint64_t> keys, std::span<float> out) const {
  KVLAB_CHECK(keys.size() == out.size());
  // Estimate's minimum, taken row by row over a block of keys (hashed 8 at a time): the same values.
  counters_.Prefetch();
  const uint32_t w = static_cast<uint32_t>(width());
  constexpr size_t kBlock = 256;
  float best[kBlock];
  uint32_t buckets[kBlock];
  for (size_t begin = 0; begin < keys.size(); begin += kBlock) {
    const size_t n = std::min(kBlock, keys.size() - begin);
    std::fill_n(best, n, std::numeric_limits<float>::infinity());
    for (size_t r = 0; r < hashes_.size(); ++r) {
      const float* row = counters_.StoredRow(r);
      hashes_[r].Buckets(keys.data() + begin, n, w, buckets);
      for (size_t i = 0; i < n; ++i) best[i] = std::min(best[i], row[buckets[i]]);
    }
    for (size_t i = 0; i < n; ++i) out[begin + i] = counters_.FromStored(best[i]);
  }
}

double CountMinSketch::ErrorBound() const { return std::numbers::e / static_cast<double>(width()) * total_; }

void CountMinSketch::Decay(double factor) {
  counters_.Scale(factor);  // checks factor
  total_ *= factor;
}

void CountMinSketch::Clear() {
  counters_.Clear();
  total_ = 0.0;
}

void CountMinSketch::Merge(const CountMinSketch& other) {
  if (other.width() != width() || other.depth() != depth() || other.seed_ != seed_) {
    throw Error("CountMinSketch::Merge",
                "shape or seed differ: " + std::to_string(width()) + "x" + std::to_string(depth()) +
                    " seed " + std::to_string(seed_) + " vs " + std::to_string(other.width()) + "x" +
                    std::to_string(other.depth()) + " seed " + std::to_string(other.seed_),
                "only sketches built with the same width, depth and seed hash keys alike");
  }
  counters_.AddFrom(other.counters_);
  total_ += other.total_;
}

}  // namespace kvlab
