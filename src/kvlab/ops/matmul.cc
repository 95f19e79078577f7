#include "kvlab/ops/matmul.h"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <array>
#include <vector>

#include "kvlab/ops/matvec_kernels.h"
#include "kvlab/ops/threads.h"
#include "kvlab/util/error.h"

namespace kvlab {

namespace {
// Rows handed out as a unit: a multiple of the kernels' 4-row pass, big enough to amortize scheduling.
constexpr size_t kRowBlock = 16;
constexpr size_t kMaxJobs = 4;
// Below this many weight bytes per thread, waking another thread costs more than it saves (tiny models).
constexpr size_t kMinBytesPerThread = size_t{256} << 10;
// Prefill of non-f32 weights: rows are decoded to f32 in panels of about this many bytes, then multiplied
// by sgemm; a panel stays in cache between the two.
constexpr size_t kPanelBytes = size_t{4} << 20;

struct PreparedJob {
  const uint8_t* w;
  size_t row_bytes;
  size_t cols;
  kernels::RowsFn rows_fn;
  const void* x;  // f32 activation, or its Q8Activation for q8 weights
  float* y;
};

// The q8 form of each distinct input vector of one MatVecMany call. Per calling thread, reused, so decode
// allocates nothing per token once the buffers have grown to the model's widths.
thread_local std::array<kernels::Q8Activation, kMaxJobs> t_q8_acts;
// Prefill panels of decoded weight rows, [panel rows][cols]; grows once.
thread_local std::vector<float> t_panel;
}  // namespace

void MatVecMany(std::initializer_list<MatVecJob> jobs) {
  KVLAB_CHECK(jobs.size() <= kMaxJobs);
  std::array<PreparedJob, kMaxJobs> job{};
  std::array<size_t, kMaxJobs + 1> block_start{};  // prefix sums of row blocks per job
  size_t total_bytes = 0;
  size_t j = 0;
  for (const MatVecJob& jb : jobs) {
    const MatrixView& w = *jb.w;
    const size_t cols = static_cast<size_t>(w.cols);
    PreparedJob& p = job[j];
    p = {static_cast<const uint8_t*>(w.data), DTypeBytes(w.dtype, cols), cols, kernels::RowsKernel(w.dtype),
         jb.x, jb.y};
    KVLAB_CHECK(p.rows_fn != nullptr);
    if (w.dtype == DType::kQ8) {
      // Jobs that share an input (Q, K, V; gate, up) share its quantization.
      size_t same = 0;
      while (same < j && !(jobs.begin()[same].x == jb.x && job[same].cols == cols && jobs.begin()[same].w->dtype == DType::kQ8)) ++same;
      if (same == j) kernels::QuantizeActivation(jb.x, cols, t_q8_acts[j]);
      p.x = &t_q8_acts[same];
    }
    block_start[j + 1] = block_start[j] + (static_cast<size_t>(w.rows) + kRowBlock - 1) / kRowBlock;
    total_bytes += w.Bytes();
    ++j;
  }
  const size_t n_jobs = j;
  const size_t total_blocks = block_start[n_jobs];
  const int threads = static_cast<int>(
      std::max<size_t>(1, std::min({static_cast<size_t>(NumThreads()), total_blocks, total_bytes / kMinBytesPerThread})));
  std::array<size_t, kMaxJobs> rows{};
  for (size_t i = 0; i < n_jobs; ++i) rows[i] = static_cast<size_t>(jobs.begin()[i].w->rows);

  // Dynamic hand-out of 64-row stretches (4 blocks): each grab is still one long contiguous stream, and
  // a thread slowed down (another process, a busy memory channel) does not hold up the other at the
  // barrier, which a static split into halves did on these shared 2-core machines.
#pragma omp parallel for schedule(dynamic, 4) num_threads(threads)
  for (size_t b = 0; b < total_blocks; ++b) {
    size_t jj = 0;
    while (b >= block_start[jj + 1]) ++jj;
    const PreparedJob& p = job[jj];
    const size_t row0 = (b - block_start[jj]) * kRowBlock;
    const size_t n_rows = std::min<size_t>(kRowBlock, rows[jj] - row0);
    p.rows_fn(p.w + row0 * p.row_bytes, p.row_bytes, n_rows, p.x, p.cols, p.y + row0);
  }
}

void MatMul(const MatrixView& w, const float* x, size_t n, float* y) {
  if (n == 1) {
    MatVec(w, x, y);
    return;
  }
  const int rows = static_cast<int>(w.rows), cols = static_cast<int>(w.cols);
  if (w.dtype == DType::kF32) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(n), rows, cols, 1.0f, x, cols,
                static_cast<const float*>(w.data), cols, 0.0f, y, rows);
    return;
  }
  // bf16 / f16 / q8: decode a panel of rows to f32 (exactly the values the matrix holds), multiply it with
  // sgemm, next panel. Decoding costs one pass over the weights, small next to n tokens of multiply-adds.
  const size_t row_bytes = DTypeBytes(w.dtype, static_cast<size_t>(cols));
  const size_t panel_rows = std::max<size_t>(16, kPanelBytes / (sizeof(float) * static_cast<size_t>(cols)));
  if (t_panel.size() < panel_rows * cols) t_panel.resize(panel_rows * cols);
  float* panel = t_panel.data();  // [panel_rows][cols]
  const auto* base = static_cast<const uint8_t*>(w.data);
  for (size_t r0 = 0; r0 < static_cast<size_t>(rows); r0 += panel_rows) {
    const size_t count = std::min(panel_rows, static_cast<size_t>(rows) - r0);
    // Decoded on this thread: an OpenMP region here would leave its workers spinning while OpenBLAS's own
    // threads want the same cores (measured: pp128 bf16 at 2 threads fell from ~120 to ~26 tok/s).
    for (size_t r = 0; r < count; ++r) {
      kernels::DecodeRow(w.dtype, base + (r0 + r) * row_bytes, static_cast<size_t>(cols), panel + r * cols);
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(n), static_cast<int>(count), cols, 1.0f, x,
                cols, panel, cols, 0.0f, y + r0, rows);
  }
}

void AddBias(const VectorView& bias, float* y, size_t n, size_t cols) {
  if (bias.empty()) return;
  for (size_t i = 0; i < n; ++i) {
    float* row = y + i * cols;
    for (size_t c = 0; c < cols; ++c) row[c] += bias.data[c];
  }
}

}  // namespace kvlab
