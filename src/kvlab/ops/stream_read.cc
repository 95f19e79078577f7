#include "kvlab/ops/stream_read.h"

#include <cstring>

#include "kvlab/ops/cpu_features.h"

namespace kvlab::kernels {

uint64_t StreamSumScalar(const std::byte* p, size_t bytes) {
  uint64_t sum[4] = {0, 0, 0, 0};
  for (size_t i = 0; i + 32 <= bytes; i += 32) {
    for (size_t k = 0; k < 4; ++k) {
      uint64_t w;
      std::memcpy(&w, p + i + 8 * k, sizeof w);
      sum[k] += w;
    }
  }
  return sum[0] + sum[1] + sum[2] + sum[3];
}

StreamSumFn StreamSumKernel() {
  switch (ActiveSimdLevel()) {
    case SimdLevel::kAvx512:
      return StreamSumAvx512;
    case SimdLevel::kAvx2:
      return StreamSumAvx2;
    case SimdLevel::kScalar:
      break;
  }
  return StreamSumScalar;
}

}  // namespace kvlab::kernels
