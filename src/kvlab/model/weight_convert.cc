// LoadedModel::ConvertMatrices and the --weights names: the one-time conversion of weight matrices to the
// format the decode kernels should read (bf16, f16, q8 or f32).
#include <vector>

#include "kvlab/model/weights.h"
#include "kvlab/ops/matvec_kernels.h"
#include "kvlab/ops/thread_team.h"
#include "kvlab/ops/threads.h"
#include "kvlab/util/error.h"

namespace kvlab {

const char* WeightFormatName(WeightFormat f) {
  switch (f) {
    case WeightFormat::kAuto: return "auto";
    case WeightFormat::kF32: return "f32";
    case WeightFormat::kBF16: return "bf16";
    case WeightFormat::kF16: return "f16";
    case WeightFormat::kQ8: return "q8";
  }
  return "?";
}

WeightFormat ParseWeightFormat(const std::string& s, const std::string& what) {
  for (WeightFormat f :
       {WeightFormat::kAuto, WeightFormat::kF32, WeightFormat::kBF16, WeightFormat::kF16, WeightFormat::kQ8}) {
    if (s == WeightFormatName(f)) return f;
  }
  throw Error(what, "unknown weight format '" + s + "'", "use auto, f32, bf16, f16 or q8");
}

namespace {
// Rewrites one matrix as `target` into a buffer owned by the model.
void Convert(LoadedModel& model, MatrixView& m, DType target) {
  if (m.empty() || m.dtype == target) return;
  const size_t rows = static_cast<size_t>(m.rows), cols = static_cast<size_t>(m.cols);
  MatrixView out = m;
  out.dtype = target;
  uint8_t* dst = model.AllocateBytes(out.Bytes());  // [rows][out.RowBytes()]
  const auto* src = static_cast<const uint8_t*>(m.data);
  const size_t src_row = m.RowBytes(), dst_row = out.RowBytes();
  std::vector<float> decoded(static_cast<size_t>(NumThreads()) * cols);  // [threads][cols] one row per thread
  ParallelRun(static_cast<size_t>(NumThreads()), [&](size_t t, size_t nt) {
    float* row = decoded.data() + t * cols;
    for (size_t r = rows * t / nt; r < rows * (t + 1) / nt; ++r) {
      kernels::DecodeRow(m.dtype, src + r * src_row, cols, row);
      ConvertFromF32(target, row, cols, dst + r * dst_row);
    }
  });
  out.data = dst;
  m = out;
}
}  // namespace

void LoadedModel::ConvertMatrices(DType target) {
  const bool tied = weights.lm_head.data == weights.tok_emb.data;
  Convert(*this, weights.tok_emb, target);
  for (LayerWeights& l : weights.layers) {
    for (MatrixView* m : l.Matrices()) Convert(*this, *m, target);
  }
  if (tied) {
    weights.lm_head = weights.tok_emb;
  } else {
    Convert(*this, weights.lm_head, target);
  }
}

}  // namespace kvlab
