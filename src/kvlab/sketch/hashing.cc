#include "kvlab/sketch/hashing.h"

#include <bit>
#include <cmath>
#include <numbers>

#include "kvlab/util/error.h"

namespace kvlab {

double SplitMix64::NextGaussian() {
  const double u1 = NextUnit();
  const double u2 = NextUnit();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

bool SketchCpuHasAvx512() {
  static const bool has = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  return has;
}

void PairwiseHash::Buckets(const uint64_t* keys, size_t count, uint32_t n, uint32_t* out) const {
  if (SketchCpuHasAvx512()) {
    BucketsAvx512(*this, keys, count, n, out);
    return;
  }
  for (size_t i = 0; i < count; ++i) out[i] = Bucket(keys[i], n);
}

void PairwiseHash::ApplySigns(const uint64_t* keys, size_t count, const float* values, float* out) const {
  if (SketchCpuHasAvx512()) {
    ApplySignsAvx512(*this, keys, count, values, out);
    return;
  }
  // Sign() is +1 where the hash's top bit is set: flip the float's sign bit where it is clear. Exactly the
  // product with Sign(), and no branch (mispredicted on half the keys).
  for (size_t i = 0; i < count; ++i) {
    const uint32_t flip = (~(*this)(keys[i]) >> 31) << 31;
    out[i] = std::bit_cast<float>(std::bit_cast<uint32_t>(values[i]) ^ flip);
  }
}

void PairwiseHash::SignedBuckets(const PairwiseHash* bucket_hashes, const PairwiseHash* sign_hashes, size_t rows,
                                 const uint64_t* keys, size_t count, uint32_t n, const float* values,
                                 uint32_t* const* buckets, float* const* signed_values) {
  KVLAB_CHECK(rows <= kMaxSignedRows);
  if (SketchCpuHasAvx512()) {
    SignedBucketsAvx512(bucket_hashes, sign_hashes, rows, keys, count, n, values, buckets, signed_values);
    return;
  }
  for (size_t r = 0; r < rows; ++r) {
    bucket_hashes[r].Buckets(keys, count, n, buckets[r]);
    sign_hashes[r].ApplySigns(keys, count, values, signed_values[r]);
  }
}

void PairwiseHash::BucketsOfRows(const PairwiseHash* hashes, size_t rows, const uint64_t* keys, size_t count,
                                 uint32_t n, uint32_t* const* buckets) {
  KVLAB_CHECK(rows <= kMaxSignedRows);
  if (SketchCpuHasAvx512()) {
    SignedBucketsAvx512(hashes, nullptr, rows, keys, count, n, nullptr, buckets, nullptr);
    return;
  }
  for (size_t r = 0; r < rows; ++r) hashes[r].Buckets(keys, count, n, buckets[r]);
}

PairwiseHash::PairwiseHash(SplitMix64& rng) {
  // Drawn in a fixed order so that a seed names one function on every platform.
  a0_ = rng.Next();
  a1_ = rng.Next();
  b_ = rng.Next();
}

}  // namespace kvlab
