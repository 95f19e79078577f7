// CounterMatrix: the depth x width float counters behind every sketch in this folder, with O(1) decay.
//
// Time-decayed importance scores multiply every counter by a factor each step. Doing that eagerly costs
// width * depth multiplies per step per (layer, head), which is a visible share of a decode step. Instead
// all counters share one scale: the real value of a cell is `stored * scale_`, Scale(f) multiplies only
// `scale_`, and Add stores `weight / scale_`. When the scale drifts past 2^±32 the cells are rewritten
// once and the scale reset to 1, so the amortized cost of a decay is O(1) and stored values stay far from
// float overflow (a real total up to 1e28 fits) and from losing small weights to rounding (relative
// precision of a float does not depend on the common scale).
//
// Because all cells share the scale, comparisons between stored values are comparisons between real
// values; the conservative update of Count-Min relies on that and works on stored units directly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace kvlab {

// Width (counters per row) and depth (rows, i.e. independent hash functions) of a sketch.
struct SketchShape {
  size_t width = 0;
  size_t depth = 0;
  bool operator==(const SketchShape&) const = default;
};

// Returns {width, depth}, or throws kvlab::Error naming `who` and the bad parameter when width or depth
// is 0 or width does not fit the 32-bit bucket hashes (width <= 2^32 - 1).
SketchShape ValidateSketchShape(std::string_view who, size_t width, size_t depth);

class CounterMatrix {
 public:
  // All counters start at zero. Precondition: a validated shape (ValidateSketchShape).
  explicit CounterMatrix(SketchShape shape);

  size_t width() const { return width_; }
  size_t depth() const { return depth_; }

  // Real value of one counter.
  float Get(size_t row, size_t col) const {
    return static_cast<float>(static_cast<double>(cells_[row * width_ + col]) * scale_);
  }
  void Add(size_t row, size_t col, float weight) {
    cells_[row * width_ + col] += static_cast<float>(static_cast<double>(weight) * inv_scale_);
  }

  // Stored units (real value / common scale). Comparable with each other, not with real values.
  float Stored(size_t row, size_t col) const { return cells_[row * width_ + col]; }
  float& MutableStored(size_t row, size_t col) { return cells_[row * width_ + col]; }
  float ToStored(float weight) const { return static_cast<float>(static_cast<double>(weight) * inv_scale_); }
  float FromStored(float stored) const { return static_cast<float>(static_cast<double>(stored) * scale_); }
  // Row `row` in stored units, [width]: for batch updates that convert each weight once (ToStored) and
  // then touch one row at a time, instead of converting per (key, row).
  float* StoredRow(size_t row) { return cells_.data() + row * width_; }
  const float* StoredRow(size_t row) const { return cells_.data() + row * width_; }

  // Scattered adds of one block of n keys to rows [first, first + count), count <= kScatterRows, in stored
  // units: StoredRow(first + j)[buckets[j][i]] += values[j][i] for i < n, in order of i, so every counter
  // sums exactly as when the keys are added one at a time. The loop runs over the keys with the rows inside
  // it: one pass serves several rows, and where all values[j] are the same array (Count-Min's unsigned
  // weights) each value is loaded once. A batch update's scattered adds are its main cost: this order takes
  // about 0.75x the time of one pass per row.
  static constexpr size_t kScatterRows = 4;
  void ScatterAdd(size_t first, size_t count, const uint32_t* const* buckets, const float* const* values,
                  size_t n);

  // Converts weights[i] to stored units into stored[i] for i < n, and returns their sum (in real units).
  // Checks that every weight is finite, and >= 0 when `nonnegative`. For batch updates: the loop has no
  // running-sum chain or per-weight branch, so it costs little beside the scattered adds.
  double ToStoredBatch(const float* weights, size_t n, bool nonnegative, float* stored) const;

  // Asks for every counter's cache line ahead of a batch of scattered updates or reads. A decode step
  // visits each (layer, head)'s sketch once, after the model's weights have streamed through the caches;
  // without this, each scattered add waits for its own miss.
  void Prefetch() const;

  // Multiplies every real value by factor (finite, >= 0; checked). O(1) amortized; factor 0 clears.
  void Scale(double factor);
  // All counters back to zero, scale back to 1.
  void Clear();
  // this += other, counter by counter. Precondition: same width and depth (checked).
  void AddFrom(const CounterMatrix& other);

  // Exact bytes of the counters themselves.
  size_t Bytes() const { return cells_.size() * sizeof(float); }

 private:
  // Folds scale_ into the cells and resets it to 1.
  void Renormalize();

  size_t width_;
  size_t depth_;
  double scale_ = 1.0;        // real value = stored * scale_
  double inv_scale_ = 1.0;    // 1 / scale_, kept so that Add multiplies instead of divides
  std::vector<float> cells_;  // [depth][width] stored units
};

// The AVX-512 loop of CounterMatrix::ToStoredBatch (counter_matrix_avx512.cc, built with AVX-512 flags), in
// the same arithmetic: stored[i] = float(double(weights[i]) · inv_scale), sums[i % 4] += weights[i] in order
// of i. Returns whether every weight is in [floor, FLT_MAX] (NaN is not). Call ToStoredBatch.
bool ToStoredBatchAvx512(const float* weights, size_t n, float floor, double inv_scale, float* stored,
                         double (&sums)[4]);

}  // namespace kvlab
