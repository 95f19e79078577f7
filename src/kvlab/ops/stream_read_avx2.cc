#include <immintrin.h>

#include "kvlab/ops/stream_read.h"

namespace kvlab::kernels {

namespace {
template <bool kPrefetch>
uint64_t Sum(const std::byte* p, size_t bytes) {
  const char* ahead = reinterpret_cast<const char*>(p) + kStreamPrefetchAheadBytes;  // a hint: never faults
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  size_t i = 0;
  for (; i + 128 <= bytes; i += 128) {  // four independent chains keep four loads in flight
    if constexpr (kPrefetch) {
      _mm_prefetch(ahead + i, _MM_HINT_NTA);
      _mm_prefetch(ahead + i + 64, _MM_HINT_NTA);
    }
    a0 = _mm256_add_epi64(a0, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i)));
    a1 = _mm256_add_epi64(a1, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 32)));
    a2 = _mm256_add_epi64(a2, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 64)));
    a3 = _mm256_add_epi64(a3, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 96)));
  }
  for (; i + 64 <= bytes; i += 64) {
    a0 = _mm256_add_epi64(a0, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i)));
    a1 = _mm256_add_epi64(a1, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 32)));
  }
  const __m256i s = _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3));
  alignas(32) uint64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), s);
  return lanes[0] + lanes[1] + lanes[2] + lanes[3];
}
}  // namespace

uint64_t StreamSumAvx2(const std::byte* p, size_t bytes) { return Sum<false>(p, bytes); }
uint64_t StreamSumPrefetchedAvx2(const std::byte* p, size_t bytes) { return Sum<true>(p, bytes); }

}  // namespace kvlab::kernels
