#include "kvlab/ops/matmul.h"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <array>

#include "kvlab/ops/dot_kernels.h"
#include "kvlab/ops/threads.h"
#include "kvlab/util/error.h"

namespace kvlab {

namespace {
// Rows handed out as a unit: a multiple of the kernels' 4-row pass, big enough to amortize scheduling.
constexpr size_t kRowBlock = 16;
constexpr size_t kMaxJobs = 4;
// Below this many weight bytes per thread, waking another thread costs more than it saves (tiny models).
constexpr size_t kMinBytesPerThread = size_t{256} << 10;
}  // namespace

void MatVecMany(std::initializer_list<MatVecJob> jobs) {
  KVLAB_CHECK(jobs.size() <= kMaxJobs);
  std::array<MatVecJob, kMaxJobs> job{};
  std::array<size_t, kMaxJobs + 1> block_start{};  // prefix sums of row blocks per job
  size_t j = 0;
  for (const MatVecJob& jb : jobs) {
    KVLAB_CHECK(jb.w->dtype == DType::kF32);
    job[j] = jb;
    block_start[j + 1] = block_start[j] + (static_cast<size_t>(jb.w->rows) + kRowBlock - 1) / kRowBlock;
    ++j;
  }
  const size_t n_jobs = j;
  const size_t total_blocks = block_start[n_jobs];
  size_t total_bytes = 0;
  for (size_t i = 0; i < n_jobs; ++i) total_bytes += job[i].w->Bytes();
  const kernels::DotRowsFn dot_rows = kernels::DotRowsKernel();
  const int threads = static_cast<int>(
      std::max<size_t>(1, std::min({static_cast<size_t>(NumThreads()), total_blocks, total_bytes / kMinBytesPerThread})));

  // Dynamic hand-out of 64-row stretches (4 blocks): each grab is still one long contiguous stream, and
  // a thread slowed down (another process, a busy memory channel) does not hold up the other at the
  // barrier, which a static split into halves did on these shared 2-core machines.
#pragma omp parallel for schedule(dynamic, 4) num_threads(threads)
  for (size_t b = 0; b < total_blocks; ++b) {
    size_t jj = 0;
    while (b >= block_start[jj + 1]) ++jj;
    const MatrixView& w = *job[jj].w;
    const size_t row0 = (b - block_start[jj]) * kRowBlock;
    const size_t rows = std::min<size_t>(kRowBlock, static_cast<size_t>(w.rows) - row0);
    const size_t cols = static_cast<size_t>(w.cols);
    dot_rows(static_cast<const float*>(w.data) + row0 * cols, cols, rows, job[jj].x, cols, job[jj].y + row0);
  }
}

void MatMul(const MatrixView& w, const float* x, size_t n, float* y) {
  KVLAB_CHECK(w.dtype == DType::kF32);
  if (n == 1) {
    MatVec(w, x, y);
    return;
  }
  const int rows = static_cast<int>(w.rows), cols = static_cast<int>(w.cols);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(n), rows, cols, 1.0f, x, cols,
              static_cast<const float*>(w.data), cols, 0.0f, y, rows);
}

void AddBias(const VectorView& bias, float* y, size_t n, size_t cols) {
  if (bias.empty()) return;
  for (size_t i = 0; i < n; ++i) {
    float* row = y + i * cols;
    for (size_t c = 0; c < cols; ++c) row[c] += bias.data[c];
  }
}

}  // namespace kvlab
