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

// The hashes of 8 keys (lanes under m), each in the top 32 bits of its 64-bit lane: (a0·lo + a1·hi + b) mod
// 2^64. Keys that are token positions have hi = 0, and a1·0 adds nothing: one 64-bit multiply (the slow
// kind) saved per 8 keys.
__m512i HashesHigh(__m512i a0, __m512i a1, __m512i b, __mmask8 m, const uint64_t* keys) {
  const __m512i k = _mm512_maskz_loadu_epi64(m, keys);
  const __m512i lo = _mm512_and_si512(k, _mm512_set1_epi64(0xffffffffLL)), hi = _mm512_srli_epi64(k, 32);
  __m512i sum = _mm512_add_epi64(_mm512_mullo_epi64(a0, lo), b);
  if (_mm512_test_epi64_mask(hi, hi) != 0) sum = _mm512_add_epi64(sum, _mm512_mullo_epi64(a1, hi));
  return sum;
}

}  // namespace

void BucketsAvx512(const PairwiseHash& h, const uint64_t* keys, size_t count, uint32_t n, uint32_t* out) {
  const __m512i a0 = _mm512_set1_epi64(static_cast<long long>(h.a0_));
  const __m512i a1 = _mm512_set1_epi64(static_cast<long long>(h.a1_));
  const __m512i b = _mm512_set1_epi64(static_cast<long long>(h.b_));
  const __m512i range = _mm512_set1_epi64(n);
  for (size_t i = 0; i < count; i += 8) {
    const __mmask8 m = LanesLeft(count, i);
    const __m512i hash = _mm512_srli_epi64(HashesHigh(a0, a1, b, m, keys + i), 32);
    // (hash · n) >> 32: the bucket (mul_epu32 multiplies the low 32 bits of each lane into 64).
    const __m512i bucket = _mm512_srli_epi64(_mm512_mul_epu32(hash, range), 32);
    _mm256_mask_storeu_epi32(out + i, m, _mm512_cvtepi64_epi32(bucket));
  }
}

void ApplySignsAvx512(const PairwiseHash& h, const uint64_t* keys, size_t count, const float* values,
                      float* out) {
  const __m512i a0 = _mm512_set1_epi64(static_cast<long long>(h.a0_));
  const __m512i a1 = _mm512_set1_epi64(static_cast<long long>(h.a1_));
  const __m512i b = _mm512_set1_epi64(static_cast<long long>(h.b_));
  for (size_t i = 0; i < count; i += 8) {
    const __mmask8 m = LanesLeft(count, i);
    // The hash's top bit is the lane's bit 63; where it is clear (Sign() = -1) the float's sign bit flips.
    const __m512i clear_top =
        _mm512_andnot_si512(HashesHigh(a0, a1, b, m, keys + i), _mm512_set1_epi64(INT64_MIN));
    const __m256i flips = _mm512_cvtepi64_epi32(_mm512_srli_epi64(clear_top, 32));
    const __m256i v = _mm256_maskz_loadu_epi32(m, values + i);
    _mm256_mask_storeu_epi32(out + i, m, _mm256_xor_si256(v, flips));
  }
}

namespace {
constexpr size_t kMaxRows = PairwiseHash::kMaxSignedRows;
// One hash's (a0, a1, b).
using Coefficients = uint64_t[3];

// SignedBucketsAvx512 with (kSigned) or without the sign hashes.
template <bool kSigned>
void HashRows(const Coefficients* bucket_hashes, const Coefficients* sign_hashes, size_t rows,
              const uint64_t* keys, size_t count, uint32_t n, const float* values, uint32_t* const* buckets,
              float* const* signed_values) {
  __m512i ba0[kMaxRows], ba1[kMaxRows], bb[kMaxRows], sa0[kMaxRows], sa1[kMaxRows], sb[kMaxRows];
  for (size_t r = 0; r < rows; ++r) {
    ba0[r] = _mm512_set1_epi64(static_cast<long long>(bucket_hashes[r][0]));
    ba1[r] = _mm512_set1_epi64(static_cast<long long>(bucket_hashes[r][1]));
    bb[r] = _mm512_set1_epi64(static_cast<long long>(bucket_hashes[r][2]));
    if constexpr (kSigned) {
      sa0[r] = _mm512_set1_epi64(static_cast<long long>(sign_hashes[r][0]));
      sa1[r] = _mm512_set1_epi64(static_cast<long long>(sign_hashes[r][1]));
      sb[r] = _mm512_set1_epi64(static_cast<long long>(sign_hashes[r][2]));
    }
  }
  const __m512i range = _mm512_set1_epi64(n), low_half = _mm512_set1_epi64(0xffffffffLL);
  const __m512i top_bit = _mm512_set1_epi64(INT64_MIN);
  for (size_t i = 0; i < count; i += 8) {
    const __mmask8 m = LanesLeft(count, i);
    // The keys' halves, as HashesHigh splits them, once for every hash below.
    const __m512i k = _mm512_maskz_loadu_epi64(m, keys + i);
    const __m512i lo = _mm512_and_si512(k, low_half), hi = _mm512_srli_epi64(k, 32);
    const bool wide = _mm512_test_epi64_mask(hi, hi) != 0;  // position keys never are
    const __m256i v = kSigned ? _mm256_maskz_loadu_epi32(m, values + i) : _mm256_setzero_si256();
    for (size_t r = 0; r < rows; ++r) {
      // As BucketsAvx512.
      __m512i bucket_hash = _mm512_add_epi64(_mm512_mullo_epi64(ba0[r], lo), bb[r]);
      if (wide) bucket_hash = _mm512_add_epi64(bucket_hash, _mm512_mullo_epi64(ba1[r], hi));
      const __m512i bucket = _mm512_srli_epi64(_mm512_mul_epu32(_mm512_srli_epi64(bucket_hash, 32), range), 32);
      _mm256_mask_storeu_epi32(buckets[r] + i, m, _mm512_cvtepi64_epi32(bucket));
      if constexpr (kSigned) {  // as ApplySignsAvx512
        __m512i sign_hash = _mm512_add_epi64(_mm512_mullo_epi64(sa0[r], lo), sb[r]);
        if (wide) sign_hash = _mm512_add_epi64(sign_hash, _mm512_mullo_epi64(sa1[r], hi));
        const __m256i flips = _mm512_cvtepi64_epi32(_mm512_srli_epi64(_mm512_andnot_si512(sign_hash, top_bit), 32));
        _mm256_mask_storeu_epi32(signed_values[r] + i, m, _mm256_xor_si256(v, flips));
      }
    }
  }
}
}  // namespace

void SignedBucketsAvx512(const PairwiseHash* bucket_hashes, const PairwiseHash* sign_hashes, size_t rows,
                         const uint64_t* keys, size_t count, uint32_t n, const float* values,
                         uint32_t* const* buckets, float* const* signed_values) {
  Coefficients bucket_coefficients[kMaxRows], sign_coefficients[kMaxRows];
  for (size_t r = 0; r < rows; ++r) {
    const PairwiseHash& b = bucket_hashes[r];
    bucket_coefficients[r][0] = b.a0_, bucket_coefficients[r][1] = b.a1_, bucket_coefficients[r][2] = b.b_;
    if (sign_hashes != nullptr) {
      const PairwiseHash& s = sign_hashes[r];
      sign_coefficients[r][0] = s.a0_, sign_coefficients[r][1] = s.a1_, sign_coefficients[r][2] = s.b_;
    }
  }
  if (sign_hashes != nullptr) {
    HashRows<true>(bucket_coefficients, sign_coefficients, rows, keys, count, n, values, buckets, signed_values);
  } else {
    HashRows<false>(bucket_coefficients, nullptr, rows, keys, count, n, nullptr, buckets, nullptr);
  }
}

}  // namespace kvlab
