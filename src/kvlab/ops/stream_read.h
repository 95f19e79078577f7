// The fastest plain reads of memory, for the bandwidth bound of `kvlab bench` (eval/membw.h): every 64-bit
// word of a buffer summed as an integer, with independent accumulators, in two ways:
//   - plain: plain loads and no software prefetch hints, so that the hardware prefetchers stream it;
//   - prefetched: the same loads, each 256 bytes also requesting the line kStreamPrefetchAheadBytes ahead
//     (NTA), as kvlab's weight kernels do.
// The bound is the better of the two. The plain read alone was not the machine's peak: on the EPYC of
// BENCHMARKS.md (2026-12-07), over a decode step's own weights and cache beside f32 and q8 decode, the
// prefetched read was the faster in 302 of 384 measurements, by 4% at the median (the requests, it
// seems, keep more lines in flight than the hardware prefetcher does), and an f32 decode round read at
// 104% of the plain bound. Neither read is a kernel's access pattern (a bound measured with a kernel's own
// pattern would measure that kernel, not the machine). Integer adds: no value the bytes may
// hold (NaN, denormal) slows them, and the sum is the same at every SIMD level, in any order.
#pragma once

#include <cstddef>
#include <cstdint>

namespace kvlab::kernels {

// How far ahead the prefetched read requests its lines: the f32 weight kernel's distance
// (ops/dot_kernels_avx512.cc).
inline constexpr size_t kStreamPrefetchAheadBytes = size_t{12} << 10;

// Sum of the 64-bit words of p[0, bytes), wrapping; bytes a multiple of 64, p any alignment.
uint64_t StreamSumScalar(const std::byte* p, size_t bytes);
uint64_t StreamSumAvx2(const std::byte* p, size_t bytes);
uint64_t StreamSumAvx512(const std::byte* p, size_t bytes);
// The same sums, read with the prefetch requests.
uint64_t StreamSumPrefetchedScalar(const std::byte* p, size_t bytes);
uint64_t StreamSumPrefetchedAvx2(const std::byte* p, size_t bytes);
uint64_t StreamSumPrefetchedAvx512(const std::byte* p, size_t bytes);

using StreamSumFn = uint64_t (*)(const std::byte*, size_t);
enum class StreamRead { kPlain, kPrefetched };
// The kernel of the active SIMD level.
StreamSumFn StreamSumKernel(StreamRead read = StreamRead::kPlain);

}  // namespace kvlab::kernels
