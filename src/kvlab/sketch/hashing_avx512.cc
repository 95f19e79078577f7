// AVX-512 PairwiseHash::Buckets and ApplySigns: the multiply-add-shift hash (with the fast range reduction,
// or the sign of its top bit) of 8 keys at a time, in exactly the integer arithmetic of the scalar Bucket
// and Sign (so sketches are bit-identical either way).
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

}  // namespace kvlab
