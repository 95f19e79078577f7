#include "kvlab/ops/matmul.h"

#include <cblas.h>

#include <algorithm>
#include <array>
#include <vector>

#include "kvlab/ops/cpu_features.h"
#include "kvlab/ops/gemm_kernels.h"
#include "kvlab/ops/matvec_kernels.h"
#include "kvlab/ops/region_timer.h"
#include "kvlab/ops/thread_team.h"
#include "kvlab/ops/threads.h"
#include "kvlab/ops/work_shares.h"
#include "kvlab/tensor/q8_rows.h"
#include "kvlab/util/aligned_scratch.h"
#include "kvlab/util/error.h"

namespace kvlab {

namespace {
constexpr size_t kRowBlock = kMatVecRowBlock;
constexpr size_t kMaxJobs = kMaxMatVecJobs;
// Below this many weight bytes per thread, waking another thread costs more than it saves (tiny models).
constexpr size_t kMinBytesPerThread = size_t{256} << 10;

// Threads a mat-vec region over `blocks` row blocks of `bytes` weight bytes uses.
size_t MatVecThreads(size_t blocks, size_t bytes) {
  return std::max<size_t>(1, std::min({static_cast<size_t>(NumThreads()), WorkShares::kMaxThreads, blocks,
                                       bytes / kMinBytesPerThread}));
}
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
  RowsFinish finish;
};

// The q8 form of each distinct input vector of one MatVecMany call. Per calling thread, reused, so decode
// allocates nothing per token once the buffers have grown to the model's widths.
thread_local std::array<kernels::Q8Activation, kMaxJobs> t_q8_acts;
// Prefill panels of decoded weight rows, [panel rows][cols]; grows once.
thread_local std::vector<float> t_panel;
// AVX-512 prefill, per thread: the token tiles in the kernels' transposed form (f32: [tiles][cols]
// [kGemmTokens]; q8: quants, scales and corrections per tile), and one block of weight rows decoded to f32
// ([kGemmBlockRows][cols]) or, for q8, its block scales ([kGemmBlockRows][blocks]).
thread_local std::vector<float> t_token_tiles;
thread_local std::vector<float> t_token_scales;
thread_local std::vector<float> t_token_corr;
thread_local std::vector<float> t_block_rows;
thread_local std::vector<float> t_block_out;
// Weight rows per block: decoded (bf16 / f16) or scale-decoded (q8) once, then multiplied with every token
// tile while they stay in L2 (24 rows of 2048 f32 values: 192 KiB).
constexpr size_t kGemmBlockRows = 24;
// Prepared token tiles multiplied with one block of rows before the next block (see PrefillAvx512).
constexpr size_t kTokenGroupBytes = size_t{512} << 10;

// Y = X W^T with the AVX-512 tile kernels (ops/gemm_kernels.h), for one thread. Prepare() puts all of X in
// the kernels' form: every thread does that for itself (a few percent of the multiply-adds, and no
// barrier between the threads). Multiply() then takes the rows handed to it, block by block of
// kGemmBlockRows: bf16 / f16 rows are decoded once per block and group of token tiles, q8 rows' scales
// likewise, and the group's tiles stay in L2 while the block's rows are multiplied with each of them.
class PrefillAvx512 {
 public:
  PrefillAvx512(const MatrixView& w, const float* x, size_t n, float* y)
      : w_(w),
        n_(n),
        y_(y),
        rows_(static_cast<size_t>(w.rows)),
        cols_(static_cast<size_t>(w.cols)),
        row_bytes_(DTypeBytes(w.dtype, cols_)),
        tiles_((n + kernels::kGemmTokens - 1) / kernels::kGemmTokens),
        q8_(w.dtype == DType::kQ8),
        bf16_pairs_(w.dtype == DType::kBF16 && cols_ % 2 == 0 && CpuHasAvx512Bf16()),
        decode_((w.dtype == DType::kBF16 && !bf16_pairs_) || w.dtype == DType::kF16),
        blocks_(Q8Blocks(cols_)),
        tile_floats_(q8_           ? blocks_ * kQ8Block * kernels::kGemmTokens / sizeof(float)
                     : bf16_pairs_ ? cols_ / 2 * kernels::kGemmTokens
                                   : cols_ * kernels::kGemmTokens) {
    // Token tiles in groups whose prepared form fits in L2 beside a block of rows.
    const size_t tile_bytes =
        tile_floats_ * sizeof(float) + (q8_ ? 2 * blocks_ * kernels::kGemmTokens * sizeof(float) : 0);
    group_tiles_ = std::max<size_t>(1, kTokenGroupBytes / tile_bytes);
    Prepare(x);
  }

  // Rows [r_begin, r_end), a multiple of kGemmBlockRows apart from row 0 (or ending at the last row).
  void Multiply(size_t r_begin, size_t r_end) {
    for (size_t g0 = 0; g0 < tiles_; g0 += group_tiles_) {
      for (size_t rb = r_begin; rb < r_end; rb += kGemmBlockRows)
        MultiplyBlock(rb, std::min(kGemmBlockRows, r_end - rb), g0);
    }
  }

 private:
  void Prepare(const float* x) {
    using kernels::kGemmTokens;
    token_tiles_ = AlignedScratch(t_token_tiles, tiles_ * tile_floats_);
    if (q8_) {
      token_scales_ = AlignedScratch(t_token_scales, tiles_ * blocks_ * kGemmTokens);
      token_corr_ = reinterpret_cast<int32_t*>(AlignedScratch(t_token_corr, tiles_ * blocks_ * kGemmTokens));
    }
    for (size_t tile = 0; tile < tiles_; ++tile) {
      const size_t first = tile * kGemmTokens, count = std::min(kGemmTokens, n_ - first);
      float* dst = token_tiles_ + tile * tile_floats_;
      if (q8_) {
        kernels::QuantizeTokensAvx512(x + first * cols_, cols_, count, cols_, reinterpret_cast<int8_t*>(dst),
                                      token_scales_ + tile * blocks_ * kGemmTokens,
                                      token_corr_ + tile * blocks_ * kGemmTokens);
      } else if (bf16_pairs_) {
        kernels::PackTokensBf16Avx512(x + first * cols_, cols_, count, cols_,
                                      reinterpret_cast<uint32_t*>(dst));
      } else {
        kernels::PackTokensAvx512(x + first * cols_, cols_, count, cols_, dst);
      }
    }
    if (decode_ || q8_) block_ = AlignedScratch(t_block_rows, kGemmBlockRows * (q8_ ? blocks_ : cols_));
    block_out_ = AlignedScratch(t_block_out, kGemmBlockRows * kGemmTokens);
  }

  void MultiplyBlock(size_t rb, size_t block_rows, size_t g0) {
    using kernels::kGemmTokens;
    const auto* base = static_cast<const uint8_t*>(w_.data);
    const uint8_t* block_w = base + rb * row_bytes_;
    if (decode_) {  // exactly the values the matrix holds
      kernels::DecodeHalfRowsAvx512(w_.dtype == DType::kBF16, block_w, row_bytes_, block_rows, cols_, block_);
    } else if (q8_) {  // the rows' f16 block scales follow their quants
      for (size_t r = 0; r < block_rows; ++r) {
        ConvertToF32(DType::kF16, block_w + r * row_bytes_ + blocks_ * kQ8Block, blocks_,
                     block_ + r * blocks_);
      }
    }
    for (size_t tile = g0; tile < std::min(tiles_, g0 + group_tiles_); ++tile) {
      const size_t first = tile * kGemmTokens, count = std::min(kGemmTokens, n_ - first);
      const float* xt = token_tiles_ + tile * tile_floats_;
      if (q8_) {
        const kernels::Q8TokenTile q{reinterpret_cast<const int8_t*>(xt),
                                     token_scales_ + tile * blocks_ * kGemmTokens,
                                     token_corr_ + tile * blocks_ * kGemmTokens};
        for (size_t r0 = 0; r0 < block_rows; r0 += kernels::kGemmRowsQ8) {
          kernels::GemmTileQ8Avx512(block_w + r0 * row_bytes_, row_bytes_, block_ + r0 * blocks_,
                                    std::min(kernels::kGemmRowsQ8, block_rows - r0), q, blocks_, count,
                                    block_out_ + r0 * kGemmTokens);
        }
      } else if (bf16_pairs_) {
        for (size_t r0 = 0; r0 < block_rows; r0 += kernels::kGemmRows) {
          kernels::GemmTileBf16Avx512(
              block_w + r0 * row_bytes_, row_bytes_, std::min(kernels::kGemmRows, block_rows - r0),
              reinterpret_cast<const uint32_t*>(xt), cols_, count, block_out_ + r0 * kGemmTokens);
        }
      } else {
        const float* rows_f32 = decode_ ? block_ : reinterpret_cast<const float*>(block_w);
        const size_t ld = decode_ ? cols_ : row_bytes_ / sizeof(float);
        for (size_t r0 = 0; r0 < block_rows; r0 += kernels::kGemmRows) {
          kernels::GemmTileF32Avx512(rows_f32 + r0 * ld, ld, std::min(kernels::kGemmRows, block_rows - r0),
                                     xt, cols_, count, block_out_ + r0 * kGemmTokens);
        }
      }
      kernels::StoreTileAvx512(block_out_, block_rows, count, y_ + first * rows_ + rb, rows_);
    }
  }

  const MatrixView& w_;
  const size_t n_;
  float* const y_;
  const size_t rows_, cols_, row_bytes_, tiles_;
  const bool q8_, bf16_pairs_, decode_;
  const size_t blocks_;       // q8 blocks per row
  const size_t tile_floats_;  // one prepared token tile, in floats
  size_t group_tiles_ = 1;
  float* token_tiles_ = nullptr;   // [tiles][tile_floats]
  float* token_scales_ = nullptr;  // q8: [tiles][blocks][kGemmTokens]
  int32_t* token_corr_ = nullptr;  // q8: [tiles][blocks][kGemmTokens]
  float* block_ = nullptr;      // [kGemmBlockRows][cols] decoded rows, or q8 [kGemmBlockRows][blocks] scales
  float* block_out_ = nullptr;  // [kGemmBlockRows][kGemmTokens] the block's transposed results for a tile
};
}  // namespace

NextMatVec::NextMatVec(std::initializer_list<const MatrixView*> matrices) {
  KVLAB_CHECK(matrices.size() <= w.size());
  for (const MatrixView* m : matrices) w[count++] = m;
}

// A share holds about kMinBytesPerThread bytes or more (MatVecThreads), so the front a thread requests
// ends, if before kPrefetchNextBytes, at the end of the matrix its share starts in, never at the share's.
static_assert(kPrefetchNextBytes <= kMinBytesPerThread / 2);

WeightBytes ShareFront(const NextMatVec& next, size_t t) {
  size_t blocks = 0, bytes = 0;
  for (size_t i = 0; i < next.count; ++i) {
    blocks += MatVecRowBlocks(*next.w[i]);
    bytes += next.w[i]->Bytes();
  }
  const size_t threads = MatVecThreads(blocks, bytes);
  if (t >= threads) return {};
  size_t first = WorkShares::ShareBegin(blocks, threads, t);
  for (size_t i = 0; i < next.count; ++i) {
    const MatrixView& m = *next.w[i];
    if (first < MatVecRowBlocks(m)) {
      const size_t row0 = first * kRowBlock;
      return {static_cast<const uint8_t*>(m.data) + row0 * m.RowBytes(),
              std::min((static_cast<size_t>(m.rows) - row0) * m.RowBytes(), kPrefetchNextBytes)};
    }
    first -= MatVecRowBlocks(m);
  }
  return {};
}

void MatVecMany(std::initializer_list<MatVecJob> jobs, const NextMatVec& next) {
  KVLAB_CHECK(jobs.size() <= kMaxJobs);
  const RegionKindScope weights(RegionKind::kWeights);
  std::array<PreparedJob, kMaxJobs> job{};
  std::array<size_t, kMaxJobs + 1> block_start{};  // prefix sums of row blocks per job
  size_t total_bytes = 0;
  size_t j = 0;
  for (const MatVecJob& jb : jobs) {
    const MatrixView& w = *jb.w;
    const size_t cols = static_cast<size_t>(w.cols);
    PreparedJob& p = job[j];
    p = {static_cast<const uint8_t*>(w.data),
         DTypeBytes(w.dtype, cols),
         cols,
         kernels::RowsKernel(w.dtype),
         jb.x,
         jb.y,
         jb.finish};
    KVLAB_CHECK(p.rows_fn != nullptr);
    if (w.dtype == DType::kQ8) {
      // Jobs that share an input (Q, K, V; gate, up) share its quantization.
      size_t same = 0;
      while (same < j && !(jobs.begin()[same].x == jb.x && job[same].cols == cols &&
                           jobs.begin()[same].w->dtype == DType::kQ8))
        ++same;
      if (same == j) kernels::QuantizeActivation(jb.x, cols, t_q8_acts[j]);
      p.x = &t_q8_acts[same];
    }
    block_start[j + 1] = block_start[j] + MatVecRowBlocks(w);
    total_bytes += w.Bytes();
    ++j;
  }
  const size_t n_jobs = j;
  const size_t total_blocks = block_start[n_jobs];
  const size_t threads = MatVecThreads(total_blocks, total_bytes);
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
        if (p.finish) p.finish(row0, row1);
      }
    }
    if (next.count > 0) {
      const WeightBytes front = ShareFront(next, t);
      PrefetchWhileWaiting(front.data, front.bytes);
    }
  });
}

void MatMul(const MatrixView& w, const float* x, size_t n, float* y, const NextMatVec& next) {
  const RegionKindScope weights(RegionKind::kWeights);
  if (n == 1) {
    MatVecMany({{&w, x, y}}, next);
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
  if (ActiveSimdLevel() == SimdLevel::kAvx512 && (w.dtype != DType::kQ8 || CpuHasAvx512Vnni())) {
    // Blocks of rows handed out by WorkShares, as in decode: the two threads' speeds differ from moment
    // to moment, and a fixed half each left one waiting for the other.
    const size_t row_blocks = (rows + kGemmBlockRows - 1) / kGemmBlockRows;
    const size_t team = std::min(static_cast<size_t>(threads), row_blocks);
    WorkShares shares(row_blocks, team);
    ParallelRun(team, [&](size_t t, size_t) {
      PrefillAvx512 prefill(w, x, n, y);
      size_t b_begin, b_end;
      while (shares.Next(t, b_begin, b_end)) {
        prefill.Multiply(b_begin * kGemmBlockRows, std::min(rows, b_end * kGemmBlockRows));
      }
    });
    return;
  }
  ParallelRun(static_cast<size_t>(threads), [&](size_t t, size_t nt) {
    const size_t r_begin = std::min(rows, blocks * t / nt * kRowBlock);
    const size_t r_end = std::min(rows, blocks * (t + 1) / nt * kRowBlock);
    if (w.dtype == DType::kF32) {
      if (r_end > r_begin) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(n),
                    static_cast<int>(r_end - r_begin), static_cast<int>(cols), 1.0f, x,
                    static_cast<int>(cols), reinterpret_cast<const float*>(base + r_begin * row_bytes),
                    static_cast<int>(cols), 0.0f, y + r_begin, static_cast<int>(rows));
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
        for (size_t r = 0; r < count; ++r)
          kernels::DecodeRow(w.dtype, base + (r0 + r) * row_bytes, cols, panel + r * cols);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(n), static_cast<int>(count),
                    static_cast<int>(cols), 1.0f, x, static_cast<int>(cols), panel, static_cast<int>(cols),
                    0.0f, y + r0, static_cast<int>(rows));
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
