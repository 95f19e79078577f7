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
  // collision probability 1 - theta / pi per bit. Drawn row by row, then the folding hashes, so a seed
  // names one sketch.
  SplitMix64 rng(seed);
  projections_.resize(depth * static_cast<size_t>(bits) * dim);
  for (float& p : projections_) p = static_cast<float>(rng.NextGaussian());
  if ((uint64_t{1} << bits) > width) {
    fold_.reserve(depth);
    for (size_t r = 0; r < depth; ++r) fold_.emplace_back(rng);
  }
}

uint32_t RaceSketch::SignCode(size_t row, std::span<const float> v) const {
  KVLAB_CHECK(row < depth() && v.size() == dim_);
  const float* plane = projections_.data() + row * static_cast<size_t>(bits_) * dim_;  // [bits][dim]
  uint32_t code = 0;
  for (int j = 0; j < bits_; ++j, plane += dim_) {
    float dot = 0.0f;
    for (size_t i = 0; i < dim_; ++i) dot += plane[i] * v[i];
    code |= static_cast<uint32_t>(dot >= 0.0f) << j;
  }
  return code;
}

uint32_t RaceSketch::Bucket(size_t row, std::span<const float> v) const {
  const uint32_t code = SignCode(row, v);
  return fold_.empty() ? code : fold_[row].Bucket(code, static_cast<uint32_t>(width()));
}

void RaceSketch::Buckets(std::span<const float> v, std::span<uint32_t> out) const {
  KVLAB_CHECK(out.size() == depth());
  for (size_t r = 0; r < depth(); ++r) out[r] = Bucket(r, v);
}

void RaceSketch::Add(std::span<const float> v, float weight) {
  KVLAB_CHECK(std::isfinite(weight));
  for (size_t r = 0; r < depth(); ++r) counters_.Add(r, Bucket(r, v), weight);
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
  for (size_t r = 0; r < depth(); ++r) sum += counters_.Stored(r, Bucket(r, q));
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
