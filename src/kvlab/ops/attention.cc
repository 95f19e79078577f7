#include "kvlab/ops/attention.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "kvlab/ops/dot_kernels.h"

namespace kvlab {

bool CausalSoftmax(float* scores, std::span<const SlotMeta> meta, float scale, int32_t query_pos) {
  const size_t n = meta.size();
  float max_score = -std::numeric_limits<float>::infinity();
  for (size_t j = 0; j < n; ++j) {
    if (meta[j].pos > query_pos) continue;
    scores[j] *= scale;
    // Summary slots are rare and the branch is predicted; log() runs only for them.
    if (meta[j].count != 1) scores[j] += std::log(static_cast<float>(meta[j].count));
    if (scores[j] > max_score) max_score = scores[j];
  }
  if (max_score == -std::numeric_limits<float>::infinity()) return false;
  double sum = 0;
  for (size_t j = 0; j < n; ++j) {
    const float e = meta[j].pos > query_pos ? 0.0f : std::exp(scores[j] - max_score);
    scores[j] = e;
    sum += e;
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (size_t j = 0; j < n; ++j) scores[j] *= inv;
  return true;
}

void AttendHead(const float* q, const float* keys, const float* values, std::span<const SlotMeta> meta,
                size_t head_dim, float scale, int32_t query_pos, float* scores, float* out) {
  const size_t n = meta.size();
  // Scores for every slot in one pass (keys are contiguous).
  kernels::DotRowsKernel()(keys, head_dim, n, q, head_dim, scores);
  if (!CausalSoftmax(scores, meta, scale, query_pos)) {
    std::memset(out, 0, head_dim * sizeof(float));
    return;
  }
  kernels::WeightedRowSumKernel()(values, head_dim, n, scores, head_dim, out);
}

}  // namespace kvlab
