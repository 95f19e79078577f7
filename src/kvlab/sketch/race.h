// RACE sketch: streaming kernel sums over vectors with an LSH kernel, in fixed memory.
//
// Paper: B. Coleman and A. Shrivastava, "Sub-linear RACE sketches for approximate kernel density
// estimation on streaming data", The Web Conference (WWW) 2020. RACE = "repeated array of count
// estimators".
//
// depth rows of width counters. Row r owns an LSH function: `bits` signed random projections (SimHash,
// Charikar, STOC 2002) with Gaussian hyperplanes, whose sign pattern is a code in [0, 2^bits). If
// 2^bits <= width the code is the bucket itself; otherwise a pairwise independent hash folds codes into
// width buckets. Add(x, w) adds w to the bucket x lands in, in every row. For one row, a query q hits the
// bucket of x with probability
//     k(x, q) = (1 - theta(x, q) / pi)^bits          (theta: the angle between x and q)
// plus, when codes are folded, (1 - k) * ~1/width for unrelated codes sharing a bucket. So each row's
// counter at q's bucket is an unbiased estimate of the kernel sum  sum_i w_i * k(x_i, q), and Query
// averages the rows, dividing the variance by depth. The kernel depends only on the angle: scaling a
// vector by a positive factor changes nothing.
//
// In kvlab the vectors are keys of one (layer, kv head): Query(q) estimates how much key mass lies in q's
// direction (a density over evicted context), and Buckets() gives each key a bucket id per row, which a
// "summary slot" strategy uses to group evicted tokens that would be attended alike.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "kvlab/sketch/counter_matrix.h"
#include "kvlab/sketch/hashing.h"

namespace kvlab {

// Probability that SimHash with `bits` hyperplanes gives two vectors with the given cosine similarity
// the same code: (1 - acos(cosine) / pi)^bits. cosine is clamped to [-1, 1].
double SrpCollisionProbability(double cosine, int bits);

class RaceSketch {
 public:
  static constexpr int kMaxBits = 32;

  // dim: length of every vector. bits: hyperplanes per row, in [1, kMaxBits]. Projections and the folding
  // hash are drawn from seed. Throws Error naming the parameter when width, depth or dim is 0, width >= 2^32,
  // or bits is out of range.
  RaceSketch(size_t width, size_t depth, size_t dim, int bits, uint64_t seed);

  size_t width() const { return counters_.width(); }
  // Asks for the cache lines an Add reads, the hyperplanes and the counters, ahead of it.
  void PrefetchCounters() const;
  size_t depth() const { return counters_.depth(); }
  size_t dim() const { return dim_; }
  int bits() const { return bits_; }
  uint64_t seed() const { return seed_; }
  // True when 2^bits <= width: a bucket is exactly one LSH code and no unrelated codes share it.
  bool exact_buckets() const { return fold_.empty(); }

  // SimHash code of v in row `row`: bit j is set when the j-th hyperplane has v on its non-negative side.
  uint32_t SignCode(size_t row, std::span<const float> v) const;
  // Bucket of v in row `row`, in [0, width).
  uint32_t Bucket(size_t row, std::span<const float> v) const;
  // out[r] = Bucket(r, v) for every row; out.size() == depth (checked).
  void Buckets(std::span<const float> v, std::span<uint32_t> out) const;
  // Buckets of several vectors, each of dim floats: out[j * depth + r] = Bucket(r, vectors[j]);
  // out.size() == vectors.size() * depth (checked). The same buckets as one Buckets call per vector, in
  // about two thirds of the time: the projections of four vectors run side by side (see ProjectAvx512).
  void BucketsOfMany(std::span<const float* const> vectors, std::span<uint32_t> out) const;

  // Adds weight (any finite value) at v's bucket in every row. v.size() == dim (checked).
  void Add(std::span<const float> v, float weight = 1.0f);
  // Same, with buckets already computed by Buckets(): hash a vector once, add and group with the result.
  void AddAtBuckets(std::span<const uint32_t> buckets, float weight = 1.0f);

  // Mean over rows of the counter at q's bucket: estimates sum_i w_i * k(x_i, q) (see the file comment).
  float Query(std::span<const float> q) const;
  float QueryAtBuckets(std::span<const uint32_t> buckets) const;

  // Multiplies every counter by factor (finite, >= 0; checked). O(1) amortized.
  void Decay(double factor);
  void Clear();
  // Adds other's counters into this one; exact (linear). Throws Error unless width, depth, dim, bits and
  // seed all match (otherwise the buckets mean different regions).
  void Merge(const RaceSketch& other);

  float Counter(size_t row, size_t bucket) const { return counters_.Get(row, bucket); }
  // Exact bytes of the counters: width * depth * sizeof(float).
  size_t CounterBytes() const { return counters_.Bytes(); }
  // Exact bytes of all state the sketch owns beyond its fixed-size object: counters, the projection
  // matrix (depth * bits * dim floats, often as large as the counters) and the folding hashes.
  size_t Bytes() const {
    return counters_.Bytes() + projections_.size() * sizeof(float) + fold_.size() * sizeof(PairwiseHash);
  }

 private:
  // Rows hashed per pass over a vector (a bounded buffer of dot products on the stack).
  static constexpr size_t kRowsPerPass = 8;
  // dots[j * rows * bits + k] = <vs[j], plane (first_row * bits + k)> for k < rows * bits and j < inputs,
  // summed coordinate by coordinate (each product rounded, then added). Every vs[j] holds dim floats.
  void Project(const float* const* vs, size_t inputs, size_t first_row, size_t rows, float* dots) const;
  // The SimHash code of one row's `bits` dot products.
  uint32_t CodeOf(const float* dots) const;
  // visit(row, bucket of v in that row) for every row in order, hashing several rows per pass over v.
  template <typename Visit>
  void ForEachBucket(std::span<const float> v, Visit visit) const;

  size_t dim_;
  int bits_;
  uint64_t seed_;
  // [dim][depth * bits] Gaussian hyperplane normals, plane p = row * bits + bit: stored by coordinate so
  // that hashing a vector runs down all its planes at once.
  std::vector<float> projections_;
  std::vector<PairwiseHash> fold_;  // [depth] code -> bucket; empty when 2^bits <= width
  CounterMatrix counters_;          // [depth][width]
};

// The AVX-512 loop of RaceSketch::Project (race_avx512.cc, built with AVX-512 flags), in the same arithmetic:
// for p < count and j < inputs, dots[j * count + p] = Σ_i columns[i * planes + p] · vs[j][i], each product
// rounded and then added in order of i. columns: [dim][planes] from the first plane wanted; vs: inputs
// pointers to dim floats. Takes kProjectMaxInputs vectors per pass. Call Project (through Buckets, Add, Query).
constexpr size_t kProjectMaxInputs = 4;
void ProjectAvx512(const float* columns, size_t planes, size_t count, const float* const* vs, size_t inputs,
                   size_t dim, float* dots);

}  // namespace kvlab
