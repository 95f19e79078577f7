// kernels::StreamSum (ops/stream_read.h), the reads of the bandwidth bound: every SIMD level, plain and
// prefetched, sums exactly the 64-bit words of the buffer, for any alignment and length.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "kvlab/ops/cpu_features.h"
#include "kvlab/ops/stream_read.h"

namespace kvlab::kernels {
namespace {

uint64_t ReferenceSum(const std::byte* p, size_t bytes) {
  uint64_t sum = 0;
  for (size_t i = 0; i < bytes; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    sum += w;
  }
  return sum;
}

TEST(StreamSum, EveryLevelSumsTheWordsAtAnyAlignmentAndLength) {
  std::vector<std::byte> buffer(70000);
  std::mt19937_64 rng(7);
  for (std::byte& b : buffer) b = static_cast<std::byte>(rng());
  std::vector<StreamSumFn> kernels = {StreamSumScalar, StreamSumPrefetchedScalar};
  if (DetectSimdLevel() >= SimdLevel::kAvx2) {
    kernels.push_back(StreamSumAvx2);
    kernels.push_back(StreamSumPrefetchedAvx2);
  }
  if (DetectSimdLevel() >= SimdLevel::kAvx512) {
    kernels.push_back(StreamSumAvx512);
    kernels.push_back(StreamSumPrefetchedAvx512);
  }
  for (size_t offset : {0, 1, 8, 63}) {
    for (size_t blocks : {0, 1, 2, 3, 4, 5, 7, 64, 1000}) {
      const std::byte* p = buffer.data() + offset;
      const uint64_t expected = ReferenceSum(p, blocks * 64);
      for (StreamSumFn k : kernels) EXPECT_EQ(k(p, blocks * 64), expected) << offset << " " << blocks;
    }
  }
  for (StreamRead read : {StreamRead::kPlain, StreamRead::kPrefetched}) {
    EXPECT_EQ(StreamSumKernel(read)(buffer.data(), 640), ReferenceSum(buffer.data(), 640));
  }
  EXPECT_NE(StreamSumKernel(StreamRead::kPlain), StreamSumKernel(StreamRead::kPrefetched));
}

}  // namespace
}  // namespace kvlab::kernels
