// AVX-512 PairwiseHash::Buckets: the multiply-add-shift hash and the fast range reduction of 8 keys at a
// time, in exactly the integer arithmetic of the scalar Bucket (so sketches are bit-identical either way).
#include <immintrin.h>

#include "kvlab/sketch/hashing.h"

namespace kvlab {

void BucketsAvx512(const PairwiseHash& h, const uint64_t* keys, size_t count, uint32_t n, uint32_t* out) {
  const __m512i a0 = _mm512_set1_epi64(static_cast<long long>(h.a0_));
  const __m512i a1 = _mm512_set1_epi64(static_cast<long long>(h.a1_));
  const __m512i b = _mm512_set1_epi64(static_cast<long long>(h.b_));
  const __m512i low32 = _mm512_set1_epi64(0xffffffffLL);
  const __m512i range = _mm512_set1_epi64(n);
  for (size_t i = 0; i < count; i += 8) {
    const __mmask8 m = count - i >= 8 ? static_cast<__mmask8>(0xff) : static_cast<__mmask8>((1u << (count - i)) - 1u);
    const __m512i k = _mm512_maskz_loadu_epi64(m, keys + i);
    const __m512i lo = _mm512_and_si512(k, low32), hi = _mm512_srli_epi64(k, 32);
    // (a0·lo + a1·hi + b) mod 2^64, top 32 bits: the hash. Keys that are token positions have hi = 0, and
    // a1·0 adds nothing: one 64-bit multiply (the slow kind) saved per 8 keys.
    __m512i sum = _mm512_add_epi64(_mm512_mullo_epi64(a0, lo), b);
    if (_mm512_test_epi64_mask(hi, hi) != 0) sum = _mm512_add_epi64(sum, _mm512_mullo_epi64(a1, hi));
    const __m512i hash = _mm512_srli_epi64(sum, 32);
    // (hash · n) >> 32: the bucket (mul_epu32 multiplies the low 32 bits of each lane into 64).
    const __m512i bucket = _mm512_srli_epi64(_mm512_mul_epu32(hash, range), 32);
    _mm256_mask_storeu_epi32(out + i, m, _mm512_cvtepi64_epi32(bucket));
  }
}

}  // namespace kvlab
