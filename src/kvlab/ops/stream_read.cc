#include "kvlab/ops/stream_read.h"

#include <cstring>

#include "kvlab/ops/cpu_features.h"

namespace kvlab::kernels {

namespace {
template <bool kPrefetch>
uint64_t Sum(const std::byte* p, size_t bytes) {
  uint64_t sum[4] = {0, 0, 0, 0};
  for (size_t i = 0; i + 32 <= bytes; i += 32) {
    if (kPrefetch && i % 64 == 0) __builtin_prefetch(p + i + kStreamPrefetchAheadBytes, 0, 0);
    for (size_t k = 0; k < 4; ++k) {
      uint64_t w;
      std::memcpy(&w, p + i + 8 * k, sizeof w);
      sum[k] += w;
    }
  }
  return sum[0] + sum[1] + sum[2] + sum[3];
}
}  // namespace

uint64_t StreamSumScalar(const std::byte* p, size_t bytes) { return Sum<false>(p, bytes); }
uint64_t StreamSumPrefetchedScalar(const std::byte* p, size_t bytes) { return Sum<true>(p, bytes); }

StreamSumFn StreamSumKernel(StreamRead read) {
  const bool prefetched = read == StreamRead::kPrefetched;
  switch (ActiveSimdLevel()) {
    case SimdLevel::kAvx512:
      return prefetched ? StreamSumPrefetchedAvx512 : StreamSumAvx512;
    case SimdLevel::kAvx2:
      return prefetched ? StreamSumPrefetchedAvx2 : StreamSumAvx2;
    case SimdLevel::kScalar:
      break;
  }
  return prefetched ? StreamSumPrefetchedScalar : StreamSumScalar;
}

}  // namespace kvlab::kernels
