#include "kvlab/sketch/counter_matrix.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "kvlab/sketch/hashing.h"
#include "kvlab/util/error.h"

namespace kvlab {
namespace {

// Outside [2^-32, 2^32] the cells are rewritten: rare enough to be free (a factor of 0.99 per step
// renormalizes once every ~2200 steps), and close enough to 1 that stored values never overflow.
constexpr double kMinScale = 0x1.0p-32;
constexpr double kMaxScale = 0x1.0p32;

// The loop of CounterMatrix::ScatterAdd for a fixed number of rows (kept in registers). kShared: every row
// adds the same values (values[0]).
template <size_t kRows, bool kShared>
void ScatterRows(float* const* rows, const uint32_t* const* buckets, const float* const* values, size_t n) {
  float* row[kRows];
  const uint32_t* bucket[kRows];
  const float* value[kRows];
  for (size_t j = 0; j < kRows; ++j) {
    row[j] = rows[j];
    bucket[j] = buckets[j];
    value[j] = values[j];
  }
  for (size_t i = 0; i < n; ++i) {
    if constexpr (kShared) {
      const float v = value[0][i];
      for (size_t j = 0; j < kRows; ++j) row[j][bucket[j][i]] += v;
    } else {
      for (size_t j = 0; j < kRows; ++j) row[j][bucket[j][i]] += value[j][i];
    }
  }
}

template <bool kShared>
void ScatterRowsOfCount(size_t count, float* const* rows, const uint32_t* const* buckets,
                        const float* const* values, size_t n) {
  switch (count) {
    case 1:
      ScatterRows<1, kShared>(rows, buckets, values, n);
      break;
    case 2:
      ScatterRows<2, kShared>(rows, buckets, values, n);
      break;
    case 3:
      ScatterRows<3, kShared>(rows, buckets, values, n);
      break;
    default:
      ScatterRows<4, kShared>(rows, buckets, values, n);
      break;
  }
}

}  // namespace

SketchShape ValidateSketchShape(std::string_view who, size_t width, size_t depth) {
  const std::string where(who);
  if (width == 0)
    throw Error(where + ": width", "must be > 0, got 0", "width is the number of counters per row");
  if (depth == 0) throw Error(where + ": depth", "must be > 0, got 0", "depth is the number of hash rows");
  if (width > std::numeric_limits<uint32_t>::max()) {
    throw Error(where + ": width", "must be < 2^32, got " + std::to_string(width),
                "buckets are 32-bit hashes; add depth rather than widen a row");
  }
  return {width, depth};
}

CounterMatrix::CounterMatrix(SketchShape shape)
    : width_(shape.width), depth_(shape.depth), cells_(shape.width * shape.depth, 0.0f) {}

double CounterMatrix::ToStoredBatch(const float* weights, size_t n, bool nonnegative, float* stored) const {
  // Four partial sums, so each add waits for the one four keys back rather than the previous one.
  double sums[4] = {0.0, 0.0, 0.0, 0.0};
  const float floor = nonnegative ? 0.0f : -std::numeric_limits<float>::max();
  bool valid = true;
  if (SketchCpuHasAvx512()) {
    valid = ToStoredBatchAvx512(weights, n, floor, inv_scale_, stored, sums);
  } else {
    for (size_t i = 0; i < n; ++i) {
      const float w = weights[i];
      valid &= (w >= floor) & (w <= std::numeric_limits<float>::max());  // NaN fails both
      sums[i % 4] += w;
      stored[i] = ToStored(w);
    }
  }
  KVLAB_CHECK(valid);
  return (sums[0] + sums[1]) + (sums[2] + sums[3]);
}

void CounterMatrix::ScatterAdd(size_t first, size_t count, const uint32_t* const* buckets,
                               const float* const* values, size_t n) {
  KVLAB_CHECK(count >= 1 && count <= kScatterRows && first + count <= depth_);
  float* rows[kScatterRows];
  bool shared = true;
  for (size_t j = 0; j < count; ++j) {
    rows[j] = StoredRow(first + j);
    shared &= values[j] == values[0];
  }
  if (shared) {
    ScatterRowsOfCount<true>(count, rows, buckets, values, n);
  } else {
    ScatterRowsOfCount<false>(count, rows, buckets, values, n);
  }
}

void CounterMatrix::Prefetch() const {
  constexpr size_t kLine = 64 / sizeof(float);
  for (size_t i = 0; i < cells_.size(); i += kLine)
    __builtin_prefetch(cells_.data() + i, /*rw=*/1, /*locality=*/3);
}

void CounterMatrix::Scale(double factor) {
  KVLAB_CHECK(std::isfinite(factor) && factor >= 0.0);
  if (factor == 0.0) {
    Clear();
    return;
  }
  scale_ *= factor;
  inv_scale_ = 1.0 / scale_;
  if (scale_ < kMinScale || scale_ > kMaxScale) Renormalize();
}

void CounterMatrix::Clear() {
  std::fill(cells_.begin(), cells_.end(), 0.0f);
  scale_ = 1.0;
  inv_scale_ = 1.0;
}

void CounterMatrix::AddFrom(const CounterMatrix& other) {
  KVLAB_CHECK(other.width_ == width_ && other.depth_ == depth_);
  // Convert the other's stored units into ours: real = s_o * c_o = s * c  =>  c = c_o * (s_o / s).
  const double ratio = other.scale_ * inv_scale_;
  for (size_t i = 0; i < cells_.size(); ++i) {
    cells_[i] += static_cast<float>(static_cast<double>(other.cells_[i]) * ratio);
  }
}

void CounterMatrix::Renormalize() {
  for (float& c : cells_) c = static_cast<float>(static_cast<double>(c) * scale_);
  scale_ = 1.0;
  inv_scale_ = 1.0;
}

}  // namespace kvlab
