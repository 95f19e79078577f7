#include "kvlab/eval/membw.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <vector>

#include "kvlab/ops/dot_kernels.h"
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

// Read with the same kernel the matrix-vector product uses: rows of 4096 floats against a vector of ones.
// That measures the bandwidth our decode can actually get, not a theoretical peak.
constexpr size_t kCols = 4096;
constexpr size_t kRowBytes = kCols * sizeof(float);
constexpr size_t kGroupRows = 16;  // rows per kernel call and per WorkShares item (256 KB)

size_t WholeRowBytes(std::span<const std::byte> region) { return region.size() / kRowBytes * kRowBytes; }
}  // namespace

// Same memory as the model weights (huge pages), so the bound and the decode read alike.
ReadBandwidthProbe::ReadBandwidthProbe(int threads, size_t bytes)
    : threads_(ProbeThreads(threads)), buffer_(bytes / sizeof(float) * sizeof(float)) {
  float* buffer = static_cast<float*>(buffer_.data());
  const size_t n = bytes / sizeof(float);
  // First touch from the threads that will read, each its starting share (NUMA placement).
  ParallelRun(static_cast<size_t>(threads_), [&](size_t t, size_t nt) {
    for (size_t i = n * t / nt; i < n * (t + 1) / nt; ++i) buffer[i] = static_cast<float>(i & 1023) * 1e-3f;
  });
  regions_.push_back(std::as_bytes(std::span(buffer, n)));
  bytes_ = WholeRowBytes(regions_[0]);
}

ReadBandwidthProbe::ReadBandwidthProbe(int threads, std::vector<std::span<const std::byte>> regions)
    : threads_(ProbeThreads(threads)) {
  for (std::span<const std::byte> r : regions) {
    KVLAB_CHECK(reinterpret_cast<uintptr_t>(r.data()) % alignof(float) == 0);
    if (WholeRowBytes(r) == 0) continue;
    regions_.push_back(r);
    bytes_ += WholeRowBytes(r);
  }
}

MemBandwidth ReadBandwidthProbe::Measure(int repetitions) const {
  const size_t threads = static_cast<size_t>(threads_);
  const kernels::DotRowsFn dot_rows = kernels::DotRowsKernel();
  // Groups of 16 rows over all regions together: group_start[i] is region i's first group.
  std::vector<size_t> group_start(regions_.size() + 1, 0);
  for (size_t i = 0; i < regions_.size(); ++i) {
    group_start[i + 1] =
        group_start[i] + (WholeRowBytes(regions_[i]) / kRowBytes + kGroupRows - 1) / kGroupRows;
  }
  std::vector<float> x(kCols, 1.0f);
  double best = 0;
  volatile float sink = 0;
  for (int r = 0; r < repetitions && bytes_ > 0; ++r) {
    std::vector<float> totals(threads, 0.0f);  // one per thread, so the reads stay live
    const auto t0 = std::chrono::steady_clock::now();
    // Split like MatVecMany: contiguous shares balanced by WorkShares.
    WorkShares shares(group_start.back(), threads);
    ParallelRun(threads, [&](size_t t, size_t) {
      float out[kGroupRows];
      float sum = 0;
      size_t g_begin, g_end;
      while (shares.Next(t, g_begin, g_end)) {
        for (size_t i = 0; i < regions_.size(); ++i) {
          const size_t lo = std::max(g_begin, group_start[i]), hi = std::min(g_end, group_start[i + 1]);
          const auto* rows = reinterpret_cast<const float*>(regions_[i].data());
          const size_t n_rows = WholeRowBytes(regions_[i]) / kRowBytes;
          for (size_t g = lo; g < hi; ++g) {
            const size_t row = (g - group_start[i]) * kGroupRows;
            dot_rows(rows + row * kCols, kCols, std::min(kGroupRows, n_rows - row), x.data(), kCols, out);
            sum += out[0];
          }
        }
      }
      totals[t] = sum;
    });
    float total = 0;
    for (float v : totals) total += v;
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    sink = sink + total;
    best = std::max(best, static_cast<double>(bytes_) / s / 1e9);
  }
  return MemBandwidth{best, threads_, bytes_};
}

MemBandwidth MeasureReadBandwidth(int threads, size_t bytes, int repetitions) {
  return ReadBandwidthProbe(threads, bytes).Measure(repetitions);
}

}  // namespace kvlab
