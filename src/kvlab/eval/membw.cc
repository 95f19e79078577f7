#include "kvlab/eval/membw.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include "kvlab/ops/dot_kernels.h"
#include "kvlab/util/huge_pages.h"

namespace kvlab {

MemBandwidth MeasureReadBandwidth(int threads, size_t bytes, int repetitions) {
  const size_t n = bytes / sizeof(float);
  // Same memory as the model weights (huge pages), so the bound and the decode read alike.
  HugePageBuffer arena(n * sizeof(float));
  float* buffer = static_cast<float*>(arena.data());
  // First touch from the threads that will read, in the same static partition (NUMA/cache placement).
#pragma omp parallel for schedule(static) num_threads(threads)
  for (size_t i = 0; i < n; ++i) buffer[i] = static_cast<float>(i & 1023) * 1e-3f;
  const kernels::DotRowsFn dot_rows = kernels::DotRowsKernel();
  // Read with the same kernel the matrix-vector product uses: rows of 4096 floats against a vector of
  // ones. That measures the bandwidth our decode can actually get, not a theoretical peak.
  constexpr size_t kCols = 4096;
  std::vector<float> x(kCols, 1.0f);
  const size_t rows = n / kCols;
  double best = 0;
  volatile float sink = 0;
  for (int r = 0; r < repetitions; ++r) {
    float total = 0;
    const auto t0 = std::chrono::steady_clock::now();
#pragma omp parallel num_threads(threads) reduction(+ : total)
    {
      const size_t t = static_cast<size_t>(omp_get_thread_num()), nt = static_cast<size_t>(omp_get_num_threads());
      const size_t begin = rows * t / nt, end = rows * (t + 1) / nt;
      float out[16];
      for (size_t row = begin; row < end; row += 16) {
        const size_t count = std::min<size_t>(16, end - row);
        dot_rows(buffer + row * kCols, kCols, count, x.data(), kCols, out);
        total += out[0];
      }
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    sink = sink + total;
    best = std::max(best, static_cast<double>(rows * kCols * sizeof(float)) / s / 1e9);
  }
  return MemBandwidth{best, threads, bytes};
}

}  // namespace kvlab
