#include "kvlab/eval/membw.h"

#include <algorithm>
#include <chrono>
#include <vector>

#include "kvlab/ops/dot_kernels.h"
#include "kvlab/ops/thread_team.h"
#include "kvlab/ops/threads.h"
#include "kvlab/ops/work_shares.h"
#include "kvlab/util/huge_pages.h"

namespace kvlab {

namespace {
int ProbeThreads(int threads) {
  return std::clamp(threads, 1, std::min(NumThreads(), static_cast<int>(WorkShares::kMaxThreads)));
}
}  // namespace

// Same memory as the model weights (huge pages), so the bound and the decode read alike.
ReadBandwidthProbe::ReadBandwidthProbe(int threads, size_t bytes)
    : threads_(ProbeThreads(threads)), bytes_(bytes), buffer_(bytes / sizeof(float) * sizeof(float)) {
  float* buffer = static_cast<float*>(buffer_.data());
  const size_t n = bytes / sizeof(float);
  // First touch from the threads that will read, each its starting share (NUMA placement).
  ParallelRun(static_cast<size_t>(threads_), [&](size_t t, size_t nt) {
    for (size_t i = n * t / nt; i < n * (t + 1) / nt; ++i) buffer[i] = static_cast<float>(i & 1023) * 1e-3f;
  });
}

MemBandwidth ReadBandwidthProbe::Measure(int repetitions) const {
  const size_t threads = static_cast<size_t>(threads_);
  const float* buffer = static_cast<const float*>(buffer_.data());
  const size_t n = bytes_ / sizeof(float);
  const kernels::DotRowsFn dot_rows = kernels::DotRowsKernel();
  // Read with the same kernel the matrix-vector product uses: rows of 4096 floats against a vector of
  // ones. That measures the bandwidth our decode can actually get, not a theoretical peak.
  constexpr size_t kCols = 4096;
  std::vector<float> x(kCols, 1.0f);
  const size_t rows = n / kCols;
  double best = 0;
  volatile float sink = 0;
  for (int r = 0; r < repetitions; ++r) {
    std::vector<float> totals(threads, 0.0f);  // one per thread, so the reads stay live
    const auto t0 = std::chrono::steady_clock::now();
    // Split like MatVecMany: contiguous shares balanced by WorkShares, in groups of 16 rows (256 KB).
    WorkShares shares((rows + 15) / 16, threads);
    ParallelRun(threads, [&](size_t t, size_t) {
      float out[16];
      float sum = 0;
      size_t g_begin, g_end;
      while (shares.Next(t, g_begin, g_end)) {
        for (size_t row = g_begin * 16; row < std::min(rows, g_end * 16); row += 16) {
          const size_t count = std::min<size_t>(16, rows - row);
          dot_rows(buffer + row * kCols, kCols, count, x.data(), kCols, out);
          sum += out[0];
        }
      }
      totals[t] = sum;
    });
    float total = 0;
    for (float v : totals) total += v;
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    sink = sink + total;
    best = std::max(best, static_cast<double>(rows * kCols * sizeof(float)) / s / 1e9);
  }
  return MemBandwidth{best, threads_, bytes_};
}

MemBandwidth MeasureReadBandwidth(int threads, size_t bytes, int repetitions) {
  return ReadBandwidthProbe(threads, bytes).Measure(repetitions);
}

}  // namespace kvlab
