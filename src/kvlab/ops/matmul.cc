#include "kvlab/ops/matmul.h"

#include <cblas.h>

#include <algorithm>
#include <array>
#include <vector>

#include "kvlab/ops/matvec_kernels.h"
#include "kvlab/ops/thread_team.h"
#include "kvlab/ops/threads.h"
#include "kvlab/ops/work_shares.h"
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
  const size_t threads = std::max<size_t>(1, std::min({static_cast<size_t>(NumThreads()), WorkShares::kMaxThreads,
                                                        total_blocks, total_bytes / kMinBytesPerThread}));
  std::array<size_t, kMaxJobs> rows{};
  for (size_t i = 0; i < n_jobs; ++i) rows[i] = static_cast<size_t>(jobs.begin()[i].w->rows);

  // Each thread starts on one contiguous share of the row blocks of all jobs together and runs the kernel
  // once per job a run of blocks touches: long streams, which the kernels' software prefetch runs ahead in
  // (short hand-outs would cut them at every boundary). WorkShares moves the end of a slower thread's share
  // to the faster one, so both finish together.
  WorkShares shares(total_blocks, threads);
  ParallelRun(threads, [&](size_t t, size_t) {
    size_t b_begin, b_end;
    while (shares.Next(t, b_begin, b_end)) {
      for (size_t jj = 0; jj < n_jobs; ++jj) {
        const size_t lo = std::max(b_begin, block_start[jj]), hi = std::min(b_end, block_start[jj + 1]);
        if (lo >= hi) continue;
        const PreparedJob& p = job[jj];
        const size_t row0 = (lo - block_start[jj]) * kRowBlock;
        const size_t row1 = std::min(rows[jj], (hi - block_start[jj]) * kRowBlock);
        p.rows_fn(p.w + row0 * p.row_bytes, p.row_bytes, row1 - row0, p.x, p.cols, p.y + row0);
      }
    }
  });
}

void MatMul(const MatrixView& w, const float* x, size_t n, float* y) {
  if (n == 1) {
    MatVec(w, x, y);
    return;
  }
  const size_t rows = static_cast<size_t>(w.rows), cols = static_cast<size_t>(w.cols);
  const size_t row_bytes = DTypeBytes(w.dtype, cols);
  const auto* base = static_cast<const uint8_t*>(w.data);
  // Each thread multiplies its own contiguous slice of W's rows (= columns of Y) with a single-threaded
  // sgemm: OpenBLAS runs without threads of its own (SetNumThreads), so its idle workers never spin on the
  // cores that the decode needs, and the team (ops/thread_team.h) is the one thread pool in the process.
  const size_t blocks = (rows + kRowBlock - 1) / kRowBlock;
  const int threads = static_cast<int>(std::max<size_t>(
      1, std::min({static_cast<size_t>(NumThreads()), blocks, n * w.Bytes() / kMinBytesPerThread})));
  ParallelRun(static_cast<size_t>(threads), [&](size_t t, size_t nt) {
    const size_t r_begin = std::min(rows, blocks * t / nt * kRowBlock);
    const size_t r_end = std::min(rows, blocks * (t + 1) / nt * kRowBlock);
    if (w.dtype == DType::kF32) {
      if (r_end > r_begin) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(n), static_cast<int>(r_end - r_begin),
                    static_cast<int>(cols), 1.0f, x, static_cast<int>(cols),
                    reinterpret_cast<const float*>(base + r_begin * row_bytes), static_cast<int>(cols), 0.0f,
                    y + r_begin, static_cast<int>(rows));
      }
    } else {
      // bf16 / f16 / q8: decode a panel of rows to f32 (exactly the values the matrix holds), multiply it
      // with sgemm, next panel. Decoding costs one pass over the weights, small next to n tokens of
      // multiply-adds; the panel is this thread's and stays in its cache between the two.
      const size_t panel_rows = std::max<size_t>(16, kPanelBytes / (sizeof(float) * cols));
      if (t_panel.size() < panel_rows * cols) t_panel.resize(panel_rows * cols);
      float* panel = t_panel.data();  // [panel_rows][cols]
      for (size_t r0 = r_begin; r0 < r_end; r0 += panel_rows) {
        const size_t count = std::min(panel_rows, r_end - r0);
        for (size_t r = 0; r < count; ++r) kernels::DecodeRow(w.dtype, base + (r0 + r) * row_bytes, cols, panel + r * cols);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(n), static_cast<int>(count),
                    static_cast<int>(cols), 1.0f, x, static_cast<int>(cols), panel, static_cast<int>(cols), 0.0f,
                    y + r0, static_cast<int>(rows));
      }
    }
  });
}

void AddBias(const VectorView& bias, float* y, size_t n, size_t cols) {
  if (bias.empty()) return;
  for (size_t i = 0; i < n; ++i) {
    float* row = y + i * cols;
    for (size_t c = 0; c < cols; ++c) row[c] += bias.data[c];
  }
}

}  // namespace kvlab
