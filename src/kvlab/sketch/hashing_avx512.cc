// AVX-512 PairwiseHash::Buckets, ApplySigns, SignedBuckets and BucketsOfRows: the multiply-add-shift hash
// (with the fast range reduction, or the sign of its top bit) of 8 keys at a time, in exactly the integer
// arithmetic of the scalar Bucket and Sign (so sketches are bit-identical either way).
#include <immintrin.h>

#include <cstdint>

#include "kvlab/sketch/hashing.h"

namespace kvlab {

namespace {

// Mask of the first min(8, count - i) lanes.
__mmask8 LanesLeft(size_t count, size_t i) {
  return count - i >= 8 ? static_cast<__mmask8>(0xff) : static_cast<__mmask8>((1u << (count - i)) - 1u);
}

// One hash's coefficients, each in every lane.
struct HashLanes {
  __m512i a0, a1, b;
};
HashLanes LanesOf(uint64_t a0, uint64_t a1, uint64_t b) {
  return {_mm512_set1_epi64(static_cast<long long>(a0)), _mm512_set1_epi64(static_cast<long long>(a1)),
          _mm512_set1_epi64(static_cast<long long>(b))};
}

// 8 keys (lanes under m) split into their 32-bit halves, once for every hash of them.
struct SplitKeys {
  __m512i lo, hi;
  bool wide;  // some key has a nonzero high half (token positions never do)
  SplitKeys(__mmask8 m, const uint64_t* keys) {
    const __m512i k = _mm512_maskz_loadu_epi64(m, keys);
    lo = _mm512_and_si512(k, _mm512_set1_epi64(0xffffffffLL));
    hi = _mm512_srli_epi64(k, 32);
    wide = _mm512_test_epi64_mask(hi, hi) != 0;
  }
};

// The hashes of the 8 keys, each in the top 32 bits of its 64-bit lane: (a0·lo + a1·hi + b) mod 2^64. When
// every high half is 0, a1·hi adds nothing: one 64-bit multiply (the slow kind) saved per 8 keys.
__m512i HashesHigh(const HashLanes& h, const SplitKeys& k) {
  const __m512i sum = _mm512_add_epi64(_mm512_mullo_epi64(h.a0, k.lo), h.b);
  return k.wide ? _mm512_add_epi64(sum, _mm512_mullo_epi64(h.a1, k.hi)) : sum;
}

// Bucket(): (hash · n) >> 32 of the top 32 bits (mul_epu32 multiplies the low 32 bits of each lane into 64).
__m256i BucketsOf(__m512i hashes, __m512i range) {
  return _mm512_cvtepi64_epi32(_mm512_srli_epi64(_mm512_mul_epu32(_mm512_srli_epi64(hashes, 32), range), 32));
}

// Sign(): the hash's top bit is the lane's bit 63; where it is clear (Sign() = -1) a float's sign bit flips.
// The flips, to XOR into 8 floats.
__m256i SignFlipsOf(__m512i hashes) {
  return _mm512_cvtepi64_epi32(
      _mm512_srli_epi64(_mm512_andnot_si512(hashes, _mm512_set1_epi64(INT64_MIN)), 32));
}

constexpr size_t kMaxRows = PairwiseHash::kMaxSignedRows;

// For r < rows: buckets[r][i] = Bucket under bucket_hashes[r] and, with kSigned, signed_values[r][i] =
// Sign under sign_hashes[r] times values[i].
template <bool kSigned>
void HashRows(const HashLanes* bucket_hashes, const HashLanes* sign_hashes, size_t rows, const uint64_t* keys,
              size_t count, uint32_t n, const float* values, uint32_t* const* buckets,
              float* const* signed_values) {
  const __m512i range = _mm512_set1_epi64(n);
  for (size_t i = 0; i < count; i += 8) {
    const __mmask8 m = LanesLeft(count, i);
    const SplitKeys k(m, keys + i);
    const __m256i v = kSigned ? _mm256_maskz_loadu_epi32(m, values + i) : _mm256_setzero_si256();
    for (size_t r = 0; r < rows; ++r) {
      _mm256_mask_storeu_epi32(buckets[r] + i, m, BucketsOf(HashesHigh(bucket_hashes[r], k), range));
      if constexpr (kSigned) {
        _mm256_mask_storeu_epi32(signed_values[r] + i, m,
                                 _mm256_xor_si256(v, SignFlipsOf(HashesHigh(sign_hashes[r], k))));
      }
    }
  }
}

}  // namespace

void BucketsAvx512(const PairwiseHash& h, const uint64_t* keys, size_t count, uint32_t n, uint32_t* out) {
  const HashLanes lanes = LanesOf(h.a0_, h.a1_, h.b_);
  uint32_t* const rows[1] = {out};
  HashRows<false>(&lanes, nullptr, 1, keys, count, n, nullptr, rows, nullptr);
}

void ApplySignsAvx512(const PairwiseHash& h, const uint64_t* keys, size_t count, const float* values,
                      float* out) {
  const HashLanes lanes = LanesOf(h.a0_, h.a1_, h.b_);
  for (size_t i = 0; i < count; i += 8) {
    const __mmask8 m = LanesLeft(count, i);
    const __m256i v = _mm256_maskz_loadu_epi32(m, values + i);
    _mm256_mask_storeu_epi32(out + i, m,
                             _mm256_xor_si256(v, SignFlipsOf(HashesHigh(lanes, SplitKeys(m, keys + i)))));
  }
}

void SignedBucketsAvx512(const PairwiseHash* bucket_hashes, const PairwiseHash* sign_hashes, size_t rows,
                         const uint64_t* keys, size_t count, uint32_t n, const float* values,
                         uint32_t* const* buckets, float* const* signed_values) {
  HashLanes bucket_lanes[kMaxRows], sign_lanes[kMaxRows];
  for (size_t r = 0; r < rows; ++r) {
    bucket_lanes[r] = LanesOf(bucket_hashes[r].a0_, bucket_hashes[r].a1_, bucket_hashes[r].b_);
    if (sign_hashes != nullptr) {
      sign_lanes[r] = LanesOf(sign_hashes[r].a0_, sign_hashes[r].a1_, sign_hashes[r].b_);
    }
  }
  if (sign_hashes != nullptr) {
    HashRows<true>(bucket_lanes, sign_lanes, rows, keys, count, n, values, buckets, signed_values);
  } else {
    HashRows<false>(bucket_lanes, nullptr, rows, keys, count, n, nullptr, buckets, nullptr);
  }
}

}  // namespace kvlab
