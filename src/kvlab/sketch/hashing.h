// Seeded hash families for the sketches in this folder.
//
// Two kinds, for two jobs:
//   * Mix64 / SeededHash64: the splitmix64 finalizer (Steele, Lea, Flood, "Fast splittable pseudorandom
//     number generators", OOPSLA 2014; constants from Vigna's splitmix64). A bijective, well-avalanched
//     mixer: good for anything that just needs "looks random" (seeding, fingerprints), but it carries no
//     independence guarantee, so no error bound may be derived from it.
//   * PairwiseHash: Dietzfelbinger's multiply-add-shift on the two 32-bit halves of a 64-bit key
//     (Dietzfelbinger, "Universal hashing and k-wise independent random variables via integer arithmetic
//     without primes", STACS 1996; Thorup, "High speed hashing for integers and strings", 2015, sec. 3.3):
//         h(x) = ((a0 * lo32(x) + a1 * hi32(x) + b) mod 2^64) >> 32,   a0, a1, b uniform in [2^64].
//     This family is strongly universal (pairwise independent) onto 32 bits: for keys x != y the pair
//     (h(x), h(y)) is uniform on [2^32]^2. That is exactly what the Count-Min and Count Sketch proofs
//     assume, and it costs two multiplies. Bucket() narrows to [0, n) with Lemire's multiply-high
//     ("Fast random integer generation in an interval", 2019), which keeps the collision probability
//     of two distinct keys at most ceil(2^32 / n) / 2^32 < 1/n + 2^-32. Sign() takes the top bit, which
//     is a pairwise independent fair +-1.
//
// Everything here is a pure function of (key, seed): same seed, same hashes, on every platform
// (no std:: distributions, whose output is implementation-defined).
#pragma once

#include <cstddef>
#include <cstdint>

namespace kvlab {

// splitmix64 finalizer: a bijection of 64-bit words with full avalanche.
constexpr uint64_t Mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

// Seeded fast hash of a 64-bit key. Seeds are mixed first so that nearby seeds give unrelated functions.
constexpr uint64_t SeededHash64(uint64_t key, uint64_t seed) {
  return Mix64(key ^ Mix64(seed + 0x9e3779b97f4a7c15ULL));
}

// Same, for 32-bit keys and 32-bit results (the high half of the 64-bit mix).
constexpr uint32_t SeededHash32(uint32_t key, uint64_t seed) {
  return static_cast<uint32_t>(SeededHash64(key, seed) >> 32);
}

// Maps a uniform 32-bit value onto [0, n) without a division (Lemire 2019). n must be >= 1.
constexpr uint32_t FastRange32(uint32_t h, uint32_t n) {
  return static_cast<uint32_t>((static_cast<uint64_t>(h) * n) >> 32);
}

// The splitmix64 generator: the one source of pseudo-random parameters (hash coefficients, projection
// matrices) in the sketch library, so that a seed fully determines a sketch.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}

  uint64_t Next() {
    state_ += 0x9e3779b97f4a7c15ULL;
    return Mix64(state_);
  }
  // Uniform in (0, 1]: never 0, so log() in Gaussian() is always finite.
  double NextUnit() { return (static_cast<double>(Next() >> 11) + 1.0) * 0x1.0p-53; }
  // Standard normal by Box-Muller. Draws two uniforms per call and discards the second normal: the
  // generator is only used at construction time, and stateless draws keep the sequence easy to reason about.
  double NextGaussian();

 private:
  uint64_t state_;
};

// One function drawn from the strongly universal multiply-add-shift family (see the file comment).
class PairwiseHash {
 public:
  PairwiseHash() = default;
  // Draws a0, a1, b from the generator.
  explicit PairwiseHash(SplitMix64& rng);

  // Uniform 32-bit hash; pairwise independent over the draw of the function.
  uint32_t operator()(uint64_t key) const {
    const uint64_t lo = static_cast<uint32_t>(key);
    const uint64_t hi = key >> 32;
    return static_cast<uint32_t>((a0_ * lo + a1_ * hi + b_) >> 32);
  }
  // Bucket in [0, n). n >= 1.
  uint32_t Bucket(uint64_t key, uint32_t n) const { return FastRange32((*this)(key), n); }
  // Bucket(keys[i], n) for i < count, into out[]: the same values, 8 keys per instruction where the CPU
  // has AVX-512 (sketch updates hash every slot of every attention row, so this is a policy's hot loop).
  void Buckets(const uint64_t* keys, size_t count, uint32_t n, uint32_t* out) const;
  // +1 or -1 with probability 1/2 each, pairwise independent across keys.
  float Sign(uint64_t key) const { return ((*this)(key) >> 31) ? 1.0f : -1.0f; }
  // out[i] = Sign(keys[i]) * values[i] for i < count (exactly: a sign flip), 8 keys per instruction where
  // the CPU has AVX-512 (a Count Sketch update signs every weight in every row). out may be values.
  void ApplySigns(const uint64_t* keys, size_t count, const float* values, float* out) const;

  bool operator==(const PairwiseHash&) const = default;

  // A Count Sketch's update of `rows` rows (at most kMaxSignedRows) at once, for i < count and r < rows:
  //   buckets[r][i] = bucket_hashes[r].Bucket(keys[i], n)
  //   signed_values[r][i] = sign_hashes[r].Sign(keys[i]) * values[i]
  // The same values as Buckets and ApplySigns row by row, with each block of keys loaded and split once
  // for all 2·rows hashes (and the values once) instead of once per hash.
  static constexpr size_t kMaxSignedRows = 4;
  static void SignedBuckets(const PairwiseHash* bucket_hashes, const PairwiseHash* sign_hashes, size_t rows,
                            const uint64_t* keys, size_t count, uint32_t n, const float* values,
                            uint32_t* const* buckets, float* const* signed_values);
  // A Count-Min update's buckets: buckets[r][i] = hashes[r].Bucket(keys[i], n) for r < rows (at most
  // kMaxSignedRows), each block of keys loaded and split once for all rows.
  static void BucketsOfRows(const PairwiseHash* hashes, size_t rows, const uint64_t* keys, size_t count,
                            uint32_t n, uint32_t* const* buckets);

 private:
  friend void SignedBucketsAvx512(const PairwiseHash* bucket_hashes, const PairwiseHash* sign_hashes,
                                  size_t rows, const uint64_t* keys, size_t count, uint32_t n,
                                  const float* values, uint32_t* const* buckets, float* const* signed_values);
  friend void BucketsAvx512(const PairwiseHash& h, const uint64_t* keys, size_t count, uint32_t n,
                            uint32_t* out);
  friend void ApplySignsAvx512(const PairwiseHash& h, const uint64_t* keys, size_t count, const float* values,
                               float* out);
  uint64_t a0_ = 0, a1_ = 0, b_ = 0;
};

// Whether this CPU runs the sketch folder's *_avx512.cc kernels (AVX-512 F, BW, VL and DQ: the flags those
// files are built with). Decided once; the sketch folder does not depend on the engine's ops/cpu_features.
bool SketchCpuHasAvx512();

// The AVX-512 path of PairwiseHash::Buckets (hashing_avx512.cc, built with AVX-512 flags); call Buckets.
void BucketsAvx512(const PairwiseHash& h, const uint64_t* keys, size_t count, uint32_t n, uint32_t* out);
// The AVX-512 path of PairwiseHash::ApplySigns; call ApplySigns.
void ApplySignsAvx512(const PairwiseHash& h, const uint64_t* keys, size_t count, const float* values,
                      float* out);
// The AVX-512 path of PairwiseHash::SignedBuckets (and of BucketsOfRows, with sign_hashes, values and
// signed_values null); call those.
void SignedBucketsAvx512(const PairwiseHash* bucket_hashes, const PairwiseHash* sign_hashes, size_t rows,
                         const uint64_t* keys, size_t count, uint32_t n, const float* values,
                         uint32_t* const* buckets, float* const* signed_values);

}  // namespace kvlab
