#include <immintrin.h>

#include "kvlab/ops/stream_read.h"

namespace kvlab::kernels {

namespace {
template <bool kPrefetch>
uint64_t Sum(const std::byte* p, size_t bytes) {
  const char* ahead = reinterpret_cast<const char*>(p) + kStreamPrefetchAheadBytes;  // a hint: never faults
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
  size_t i = 0;
  for (; i + 256 <= bytes; i += 256) {  // four independent chains keep four cache lines in flight
    if constexpr (kPrefetch) {
      _mm_prefetch(ahead + i, _MM_HINT_NTA);
      _mm_prefetch(ahead + i + 64, _MM_HINT_NTA);
      _mm_prefetch(ahead + i + 128, _MM_HINT_NTA);
      _mm_prefetch(ahead + i + 192, _MM_HINT_NTA);
    }
    a0 = _mm512_add_epi64(a0, _mm512_loadu_si512(p + i));
    a1 = _mm512_add_epi64(a1, _mm512_loadu_si512(p + i + 64));
    a2 = _mm512_add_epi64(a2, _mm512_loadu_si512(p + i + 128));
    a3 = _mm512_add_epi64(a3, _mm512_loadu_si512(p + i + 192));
  }
  for (; i + 64 <= bytes; i += 64) a0 = _mm512_add_epi64(a0, _mm512_loadu_si512(p + i));
  // Summed as unsigned here: _mm512_reduce_add_epi64 adds signed lanes, whose wrap-around is undefined.
  alignas(64) uint64_t lanes[8];
  _mm512_store_si512(lanes, _mm512_add_epi64(_mm512_add_epi64(a0, a1), _mm512_add_epi64(a2, a3)));
  uint64_t sum = 0;
  for (uint64_t lane : lanes) sum += lane;
  return sum;
}
}  // namespace

uint64_t StreamSumAvx512(const std::byte* p, size_t bytes) { return Sum<false>(p, bytes); }
uint64_t StreamSumPrefetchedAvx512(const std::byte* p, size_t bytes) { return Sum<true>(p, bytes); }

}  // namespace kvlab::kernels
