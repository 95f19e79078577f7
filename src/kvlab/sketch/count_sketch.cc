#include "kvlab/sketch/count_sketch.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <string>

#include "kvlab/util/error.h"

namespace kvlab {
namespace {

// The shared shape checks plus the depth cap, before anything is allocated.
SketchShape ValidateCountSketchShape(size_t width, size_t depth) {
  const SketchShape shape = ValidateSketchShape("CountSketch", width, depth);
  if (depth > CountSketch::kMaxDepth) {
    throw Error("CountSketch: depth",
                "must be <= " + std::to_string(CountSketch::kMaxDepth) + ", got " + std::to_string(depth),
                "the error probability falls exponentially with depth; a few rows suffice");
  }
  return shape;
}

// Median of the first n values of buf (reorders them). n >= 1.
template <typename T>
T MedianInPlace(T* buf, size_t n) {
  const size_t mid = n / 2;
  std::nth_element(buf, buf + mid, buf + n);
  if (n % 2 == 1) return buf[mid];
  // Even count: the lower middle is the largest value left of mid after nth_element.
  const T lower = *std::max_element(buf, buf + mid);
  return (lower + buf[mid]) / 2;
}

}  // namespace

SketchShape CountSketchShape(double epsilon, double delta) {
  if (!(epsilon > 0.0) || !std::isfinite(epsilon)) {
    throw Error("CountSketchShape: epsilon", "must be > 0, got " + std::to_string(epsilon),
                "epsilon is the error as a fraction of ||x||_2");
  }
  if (!(delta > 0.0 && delta < 1.0)) {
    throw Error("CountSketchShape: delta", "must be in (0, 1), got " + std::to_string(delta),
                "delta is the probability that one query exceeds the error bound");
  }
  const double w = std::ceil(9.0 / (epsilon * epsilon) * (1.0 - 1e-12));
  if (w > static_cast<double>(std::numeric_limits<uint32_t>::max())) {
    throw Error("CountSketchShape: epsilon", "too small: width " + std::to_string(w) + " exceeds 2^32 - 1");
  }
  // Chernoff for "at least half of d rows fail", each with probability p = 1/9: (4p(1-p))^(d/2).
  const double per_row = 0.5 * std::log(81.0 / 32.0);
  size_t d = static_cast<size_t>(std::ceil(std::log(1.0 / delta) / per_row * (1.0 - 1e-12)));
  d = std::max<size_t>(d, 1);
  if (d % 2 == 0) ++d;  // odd: the median is one row's value, not an average
  return {static_cast<size_t>(w), d};
}

CountSketch::CountSketch(size_t width, size_t depth, uint64_t seed)
    : seed_(seed), counters_(ValidateCountSketchShape(width, depth)) {
  SplitMix64 rng(seed);
  bucket_hashes_.reserve(depth);
  sign_hashes_.reserve(depth);
  for (size_t r = 0; r < depth; ++r) bucket_hashes_.emplace_back(rng);
  for (size_t r = 0; r < depth; ++r) sign_hashes_.emplace_back(rng);
}

void CountSketch::Add(uint64_t key, float weight) {
  KVLAB_CHECK(std::isfinite(weight));
  const uint32_t w = static_cast<uint32_t>(width());
  for (size_t r = 0; r < bucket_hashes_.size(); ++r) {
    counters_.Add(r, bucket_hashes_[r].Bucket(key, w), sign_hashes_[r].Sign(key) * weight);
  }
}

void CountSketch::AddBatch(std::span<const uint64_t> keys, std::span<const float> weights) {
  KVLAB_CHECK(keys.size() == weights.size());
  // Same sums as Add per key, four rows per pass over the keys (see CountMinSketch::AddBatch).
  counters_.Prefetch();
  const uint32_t w = static_cast<uint32_t>(width());
  constexpr size_t kBlock = 256;
  constexpr size_t kRows = CounterMatrix::kScatterRows;
  static_assert(kRows == 4 && kRows <= PairwiseHash::kMaxSignedRows, "the row pointers below name four rows");
  float stored[kBlock];
  float signed_stored[kRows][kBlock];  // one group of rows' signed weights
  uint32_t buckets[kRows][kBlock];
  uint32_t* const bucket_rows[kRows] = {buckets[0], buckets[1], buckets[2], buckets[3]};
  float* const values[kRows] = {signed_stored[0], signed_stored[1], signed_stored[2], signed_stored[3]};
  for (size_t begin = 0; begin < keys.size(); begin += kBlock) {
    const size_t n = std::min(kBlock, keys.size() - begin);
    counters_.ToStoredBatch(weights.data() + begin, n, /*nonnegative=*/false, stored);
    for (size_t first = 0; first < bucket_hashes_.size(); first += kRows) {
      const size_t count = std::min(kRows, bucket_hashes_.size() - first);
      PairwiseHash::SignedBuckets(&bucket_hashes_[first], &sign_hashes_[first], count, keys.data() + begin, n,
                                  w, stored, bucket_rows, values);
      counters_.ScatterAdd(first, count, bucket_rows, values, n);
    }
  }
}

float CountSketch::RowEstimate(size_t row, uint64_t key) const {
  KVLAB_CHECK(row < depth());
  const uint32_t b = bucket_hashes_[row].Bucket(key, static_cast<uint32_t>(width()));
  return sign_hashes_[row].Sign(key) * counters_.Get(row, b);
}

float CountSketch::Estimate(uint64_t key) const {
  // Median in stored units (one common scale), converted once.
  std::array<float, kMaxDepth> rows{};  // zeroed: GCC cannot see that only the first depth() are read
  const uint32_t w = static_cast<uint32_t>(width());
  const size_t d = depth();
  for (size_t r = 0; r < d; ++r) {
    rows[r] = sign_hashes_[r].Sign(key) * counters_.Stored(r, bucket_hashes_[r].Bucket(key, w));
  }
  return counters_.FromStored(MedianInPlace(rows.data(), d));
}

void CountSketch::EstimateBatch(std::span<const uint64_t> keys, std::span<float> out) const {
  KVLAB_CHECK(keys.size() == out.size());
  // Estimate's median for a block of keys at once: the rows' signed counters as [depth][block], sorted
  // down the depth axis by an odd-even transposition network (lane-wise min/max, which vectorizes and
  // never branches on the data), then the middle row(s) read off. The same values as Estimate.
  counters_.Prefetch();
  const uint32_t w = static_cast<uint32_t>(width());
  const size_t d = depth();
  constexpr size_t kBlock = 64;
  float rows[kMaxDepth][kBlock];
  uint32_t buckets[kBlock];
  for (size_t begin = 0; begin < keys.size(); begin += kBlock) {
    const size_t n = std::min(kBlock, keys.size() - begin);
    for (size_t r = 0; r < d; ++r) {
      const float* row = counters_.StoredRow(r);
      bucket_hashes_[r].Buckets(keys.data() + begin, n, w, buckets);
      for (size_t i = 0; i < n; ++i) rows[r][i] = row[buckets[i]];
      sign_hashes_[r].ApplySigns(keys.data() + begin, n, rows[r], rows[r]);
    }
    // d passes of compare-exchange on alternating (even, odd) pairs of rows sort any d values.
    for (size_t pass = 0; pass < d; ++pass) {
      for (size_t r = pass % 2; r + 1 < d; r += 2) {
        float* lo = rows[r];
        float* hi = rows[r + 1];
        for (size_t i = 0; i < n; ++i) {
          const float a = lo[i], b = hi[i];
          lo[i] = std::min(a, b);
          hi[i] = std::max(a, b);
        }
      }
    }
    const size_t mid = d / 2;
    for (size_t i = 0; i < n; ++i) {
      const float median = d % 2 == 1 ? rows[mid][i] : (rows[mid - 1][i] + rows[mid][i]) / 2;
      out[begin + i] = counters_.FromStored(median);
    }
  }
}

double CountSketch::SquaredNormEstimate() const {
  std::array<double, kMaxDepth> rows{};
  for (size_t r = 0; r < depth(); ++r) {
    double s = 0.0;
    for (size_t c = 0; c < width(); ++c) {
      const double v = counters_.Get(r, c);
      s += v * v;
    }
    rows[r] = s;
  }
  return MedianInPlace(rows.data(), depth());
}

double CountSketch::ErrorBound() const {
  return 3.0 * std::sqrt(SquaredNormEstimate() / static_cast<double>(width()));
}

void CountSketch::Decay(double factor) { counters_.Scale(factor); }

void CountSketch::Clear() { counters_.Clear(); }

void CountSketch::Merge(const CountSketch& other) {
  if (other.width() != width() || other.depth() != depth() || other.seed_ != seed_) {
    throw Error("CountSketch::Merge",
                "shape or seed differ: " + std::to_string(width()) + "x" + std::to_string(depth()) +
                    " seed " + std::to_string(seed_) + " vs " + std::to_string(other.width()) + "x" +
                    std::to_string(other.depth()) + " seed " + std::to_string(other.seed_),
                "only sketches built with the same width, depth and seed hash keys alike");
  }
  counters_.AddFrom(other.counters_);
}

}  // namespace kvlab
