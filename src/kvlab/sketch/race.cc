#include "kvlab/sketch/race.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <string>

#include "kvlab/util/error.h"

namespace kvlab {
namespace {

SketchShape ValidateRaceShape(size_t width, size_t depth, size_t dim, int bits) {
  const SketchShape shape = ValidateSketchShape("RaceSketch", width, depth);
  if (dim == 0) throw Error("RaceSketch: dim", "must be > 0, got 0", "dim is the length of every vector");
  if (bits < 1 || bits > RaceSketch::kMaxBits) {
    throw Error("RaceSketch: bits",
                "must be in [1, " + std::to_string(RaceSketch::kMaxBits) + "], got " + std::to_string(bits),
                "bits is the number of random hyperplanes per row; more bits = a narrower kernel");
  }
  return shape;
}

}  // namespace

double SrpCollisionProbability(double cosine, int bits) {
  const double theta = std::acos(std::clamp(cosine, -1.0, 1.0));
  return std::pow(1.0 - theta / std::numbers::pi, bits);
}

RaceSketch::RaceSketch(size_t width, size_t depth, size_t dim, int bits, uint64_t seed)
    : dim_(dim), bits_(bits), seed_(seed), counters_(ValidateRaceShape(width, depth, dim, bits)) {
  // Gaussian normals make the hyperplane direction uniform on the sphere, which is what gives the
  // collision probability 1 - theta / pi per bit. Drawn row by row, bit by bit, then the folding hashes,
  // so a seed names one sketch; stored by coordinate (see projections_).
  SplitMix64 rng(seed);
  const size_t planes = depth * static_cast<size_t>(bits);
  projections_.resize(planes * dim);
  for (size_t p = 0; p < planes; ++p) {
    for (size_t i = 0; i < dim; ++i) projections_[i * planes + p] = static_cast<float>(rng.NextGaussian());
  }
  if ((uint64_t{1} << bits) > width) {
    fold_.reserve(depth);
    for (size_t r = 0; r < depth; ++r) fold_.emplace_back(rng);
  }
}

void RaceSketch::Project(const float* const* vs, size_t inputs, size_t first_row, size_t rows,
                         float* dots) const {
  KVLAB_CHECK(first_row + rows <= depth());
  const size_t planes = depth() * static_cast<size_t>(bits_);
  const size_t begin = first_row * static_cast<size_t>(bits_), count = rows * static_cast<size_t>(bits_);
  // Every plane's dot product accumulates coordinate by coordinate, as a plain loop over one plane would (so
  // the signs, and the sketch, do not depend on how many planes or vectors are taken at once, nor on the
  // CPU); the loop over planes is the inner one, contiguous in projections_, and vectorizes.
  if (SketchCpuHasAvx512()) {
    ProjectAvx512(projections_.data() + begin, planes, count, vs, inputs, dim_, dots);
    return;
  }
  std::fill_n(dots, inputs * count, 0.0f);
  for (size_t i = 0; i < dim_; ++i) {
    const float* column = projections_.data() + i * planes + begin;
    for (size_t j = 0; j < inputs; ++j) {
      const float x = vs[j][i];
      float* d = dots + j * count;
      for (size_t p = 0; p < count; ++p) d[p] += column[p] * x;
    }
  }
}

uint32_t RaceSketch::SignCode(size_t row, std::span<const float> v) const {
  KVLAB_CHECK(row < depth() && v.size() == dim_);
  float dots[kMaxBits];
  const float* input = v.data();
  Project(&input, 1, row, 1, dots);
  return CodeOf(dots);
}

uint32_t RaceSketch::CodeOf(const float* dots) const {
  uint32_t code = 0;
  for (int j = 0; j < bits_; ++j) code |= static_cast<uint32_t>(dots[j] >= 0.0f) << j;
  return code;
}

uint32_t RaceSketch::Bucket(size_t row, std::span<const float> v) const {
  const uint32_t code = SignCode(row, v);
  return fold_.empty() ? code : fold_[row].Bucket(code, static_cast<uint32_t>(width()));
}

template <typename Visit>
void RaceSketch::ForEachBucket(std::span<const float> v, Visit visit) const {
  // All rows' planes in one pass over v, kRowsPerPass rows at a time (a bounded buffer on the stack).
  KVLAB_CHECK(v.size() == dim_);
  float dots[kRowsPerPass * kMaxBits];
  const float* input = v.data();
  for (size_t first = 0; first < depth(); first += kRowsPerPass) {
    const size_t rows = std::min(kRowsPerPass, depth() - first);
    Project(&input, 1, first, rows, dots);
    for (size_t r = 0; r < rows; ++r) {
      const uint32_t code = CodeOf(dots + r * static_cast<size_t>(bits_));
      visit(first + r, fold_.empty() ? code : fold_[first + r].Bucket(code, static_cast<uint32_t>(width())));
    }
  }
}

void RaceSketch::PrefetchCounters() const {
  constexpr size_t kLine = 64 / sizeof(float);
  for (size_t i = 0; i < projections_.size(); i += kLine) __builtin_prefetch(projections_.data() + i);
  counters_.Prefetch();
}

void RaceSketch::Buckets(std::span<const float> v, std::span<uint32_t> out) const {
  KVLAB_CHECK(out.size() == depth());
  ForEachBucket(v, [&](size_t row, uint32_t bucket) { out[row] = bucket; });
}

void RaceSketch::BucketsOfMany(std::span<const float* const> vectors, std::span<uint32_t> out) const {
  KVLAB_CHECK(out.size() == vectors.size() * depth());
  float dots[kProjectMaxInputs * kRowsPerPass * kMaxBits];  // [inputs][rows * bits]
  const size_t bits = static_cast<size_t>(bits_), w = width();
  for (size_t j0 = 0; j0 < vectors.size(); j0 += kProjectMaxInputs) {
    const size_t inputs = std::min(kProjectMaxInputs, vectors.size() - j0);
    for (size_t first = 0; first < depth(); first += kRowsPerPass) {
      const size_t rows = std::min(kRowsPerPass, depth() - first);
      Project(vectors.data() + j0, inputs, first, rows, dots);
      for (size_t j = 0; j < inputs; ++j) {
        for (size_t r = 0; r < rows; ++r) {
          const uint32_t code = CodeOf(dots + (j * rows + r) * bits);
          out[(j0 + j) * depth() + first + r] =
              fold_.empty() ? code : fold_[first + r].Bucket(code, static_cast<uint32_t>(w));
        }
      }
    }
  }
}

void RaceSketch::Add(std::span<const float> v, float weight) {
  KVLAB_CHECK(std::isfinite(weight));
  ForEachBucket(v, [&](size_t row, uint32_t bucket) { counters_.Add(row, bucket, weight); });
}

void RaceSketch::AddAtBuckets(std::span<const uint32_t> buckets, float weight) {
  KVLAB_CHECK(buckets.size() == depth() && std::isfinite(weight));
  for (size_t r = 0; r < depth(); ++r) {
    KVLAB_CHECK(buckets[r] < width());
    counters_.Add(r, buckets[r], weight);
  }
}

float RaceSketch::Query(std::span<const float> q) const {
  double sum = 0.0;
  ForEachBucket(q, [&](size_t row, uint32_t bucket) { sum += counters_.Stored(row, bucket); });
  return counters_.FromStored(static_cast<float>(sum / static_cast<double>(depth())));
}

float RaceSketch::QueryAtBuckets(std::span<const uint32_t> buckets) const {
  KVLAB_CHECK(buckets.size() == depth());
  double sum = 0.0;
  for (size_t r = 0; r < depth(); ++r) {
    KVLAB_CHECK(buckets[r] < width());
    sum += counters_.Stored(r, buckets[r]);
  }
  return counters_.FromStored(static_cast<float>(sum / static_cast<double>(depth())));
}

void RaceSketch::Decay(double factor) { counters_.Scale(factor); }

void RaceSketch::Clear() { counters_.Clear(); }

void RaceSketch::Merge(const RaceSketch& other) {
  if (other.width() != width() || other.depth() != depth() || other.dim_ != dim_ || other.bits_ != bits_ ||
      other.seed_ != seed_) {
    throw Error("RaceSketch::Merge",
                "shape or seed differ: width/depth/dim/bits/seed " + std::to_string(width()) + "/" +
                    std::to_string(depth()) + "/" + std::to_string(dim_) + "/" + std::to_string(bits_) + "/" +
                    std::to_string(seed_) + " vs " + std::to_string(other.width()) + "/" +
                    std::to_string(other.depth()) + "/" + std::to_string(other.dim_) + "/" +
                    std::to_string(other.bits_) + "/" + std::to_string(other.seed_),
                "only sketches built with the same parameters and seed share hyperplanes");
  }
  counters_.AddFrom(other.counters_);
}

}  // namespace kvlab
