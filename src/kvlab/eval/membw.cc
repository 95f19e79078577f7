#include "kvlab/eval/membw.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <vector>

#include "kvlab/ops/stream_read.h"
#include "kvlab/ops/thread_team.h"
#include "kvlab/ops/threads.h"
#include "kvlab/ops/work_shares.h"
#include "kvlab/util/error.h"
#include "kvlab/util/huge_pages.h"

namespace kvlab {

namespace {
int ProbeThreads(int threads) {
  return std::clamp(threads, 1, std::min(NumThreads(), static_cast<int>(WorkShares::kMaxThreads)));
}

// The probe reads whole 64-byte blocks (kernels::StreamSum's unit) of each region.
constexpr size_t kBlock = 64;
size_t WholeBlockBytes(std::span<const std::byte> region) { return region.size() / kBlock * kBlock; }
// The unit threads share a pass in: whole blocks, small enough that the last pieces even the threads out.
constexpr size_t kChunk = 64 * 1024;
}  // namespace

// Same memory as the model weights (huge pages), so the bound and the decode read alike.
ReadBandwidthProbe::ReadBandwidthProbe(int threads, size_t bytes)
    : threads_(ProbeThreads(threads)), buffer_(bytes / kBlock * kBlock) {
  auto* buffer = static_cast<uint64_t*>(buffer_.data());
  const size_t n = buffer_.size() / sizeof(uint64_t);
  // First touch from the threads that will read, each its own share (NUMA placement).
  ParallelRun(static_cast<size_t>(threads_), [&](size_t t, size_t nt) {
    for (size_t i = n * t / nt; i < n * (t + 1) / nt; ++i) buffer[i] = i;
  });
  regions_.push_back(std::as_bytes(std::span(buffer, n)));
  bytes_ = WholeBlockBytes(regions_[0]);
}

ReadBandwidthProbe::ReadBandwidthProbe(int threads, std::vector<std::span<const std::byte>> regions)
    : threads_(ProbeThreads(threads)) {
  for (std::span<const std::byte> r : regions) {
    if (WholeBlockBytes(r) == 0) continue;
    regions_.push_back(r);
    bytes_ += WholeBlockBytes(r);
  }
}

double ReadBandwidthProbe::Pass(kernels::StreamSumFn stream_sum, uint64_t& checksum) const {
  const size_t threads = static_cast<size_t>(threads_);
  std::vector<uint64_t> totals(threads, 0);  // one per thread, so the reads stay live
  const auto t0 = std::chrono::steady_clock::now();
  // All the regions laid end to end, in kChunk pieces shared out as the decode's mat-vecs share their
  // rows (WorkShares): each thread streams its own contiguous share front to back, and a thread that
  // finishes first takes the back of the other's. The two vCPUs do not get equal bandwidth from moment
  // to moment; with fixed halves, a pass lasted as long as the slower thread's half, so the probe read
  // below what the work-sharing decode reached (fractions of 103-119% on a busy host).
  const size_t chunks = (bytes_ + kChunk - 1) / kChunk;
  WorkShares shares(chunks, threads);
  ParallelRun(threads, [&](size_t t, size_t) {
    uint64_t sum = 0;
    size_t first, last;
    while (shares.Next(t, first, last)) {
      const size_t begin = first * kChunk, end = std::min(last * kChunk, bytes_);
      size_t offset = 0;  // of the current region within the whole
      for (const std::span<const std::byte>& region : regions_) {
        const size_t size = WholeBlockBytes(region);
        const size_t lo = std::max(begin, offset), hi = std::min(end, offset + size);
        if (lo < hi) sum += stream_sum(region.data() + (lo - offset), hi - lo);
        offset += size;
      }
    }
    totals[t] = sum;
  });
  checksum = 0;
  for (uint64_t v : totals) checksum += v;
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return static_cast<double>(bytes_) / s / 1e9;
}

MemBandwidth ReadBandwidthProbe::Measure(int repetitions) const {
  const kernels::StreamSumFn plain = kernels::StreamSumKernel(kernels::StreamRead::kPlain);
  const kernels::StreamSumFn prefetched = kernels::StreamSumKernel(kernels::StreamRead::kPrefetched);
  MemBandwidth bw;
  bw.threads = threads_;
  bw.bytes = bytes_;
  if (bytes_ == 0) return bw;
  double sum_of_rates = 0;
  volatile uint64_t sink = 0;
  for (int r = 0; r < repetitions; ++r) {
    // Each pass reads both ways, back to back, and counts as the faster of the two.
    uint64_t plain_sum = 0, prefetched_sum = 0;
    const double plain_rate = Pass(plain, plain_sum);
    const double prefetched_rate = Pass(prefetched, prefetched_sum);
    KVLAB_CHECK(plain_sum == prefetched_sum);
    sink = sink + plain_sum;
    bw.checksum = plain_sum;
    bw.plain_gb_per_s = std::max(bw.plain_gb_per_s, plain_rate);
    bw.prefetched_gb_per_s = std::max(bw.prefetched_gb_per_s, prefetched_rate);
    bw.gb_per_s = std::max({bw.gb_per_s, plain_rate, prefetched_rate});
    sum_of_rates += std::max(plain_rate, prefetched_rate);
  }
  bw.mean_gb_per_s = repetitions > 0 ? sum_of_rates / repetitions : 0.0;
  return bw;
}

MemBandwidth MeasureReadBandwidth(int threads, size_t bytes, int repetitions) {
  return ReadBandwidthProbe(threads, bytes).Measure(repetitions);
}

}  // namespace kvlab
