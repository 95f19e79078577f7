// The plainest fast read of memory: every 64-bit word of a buffer summed as an integer, with independent
// accumulators, plain loads and no software prefetch hints, so the hardware prefetchers stream it at the
// machine's peak. `kvlab bench` measures its bandwidth bound with it (eval/membw.h): a bound measured with
// a kernel's own access pattern would measure that kernel, not the machine. Integer adds: no value the
// bytes may hold (NaN, denormal) slows them, and the sum is the same at every SIMD level, in any order.
#pragma once

#include <cstddef>
#include <cstdint>

namespace kvlab::kernels {

// Sum of the 64-bit words of p[0, bytes), wrapping; bytes a multiple of 64, p any alignment.
uint64_t StreamSumScalar(const std::byte* p, size_t bytes);
uint64_t StreamSumAvx2(const std::byte* p, size_t bytes);
uint64_t StreamSumAvx512(const std::byte* p, size_t bytes);

using StreamSumFn = uint64_t (*)(const std::byte*, size_t);
// The kernel of the active SIMD level.
StreamSumFn StreamSumKernel();

}  // namespace kvlab::kernels
