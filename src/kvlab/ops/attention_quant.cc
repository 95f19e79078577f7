#include "kvlab/ops/attention_quant.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "kvlab/ops/dot_kernels.h"

namespace kvlab {

void AttendHeadQuantized(const float* q, const QuantizedHead& head, std::span<const SlotMeta> meta,
                         size_t head_dim, float scale, int32_t query_pos, float* scores, float* out) {
  const size_t n = meta.size(), nq = head.n_quant;
  const CodecKernels kk = KernelsFor(head.k), vk = KernelsFor(head.v);
  // Scores: encoded prefix through the key codec, then the f32 window in one dense pass.
  for (size_t j = 0; j < nq; ++j) scores[j] = kk.dot(head.key_codes + j * head.key_row_bytes, q, head_dim, head.group);
  if (n > nq) kernels::DotRowsKernel()(head.residual_keys, head_dim, n - nq, q, head_dim, scores + nq);
  float max_score = -std::numeric_limits<float>::infinity();
  for (size_t j = 0; j < n; ++j) {
    if (meta[j].pos > query_pos) {
      scores[j] = -std::numeric_limits<float>::infinity();
      continue;
    }
    scores[j] *= scale;
    if (meta[j].count != 1) scores[j] += std::log(static_cast<float>(meta[j].count));
    if (scores[j] > max_score) max_score = scores[j];
  }
  std::memset(out, 0, head_dim * sizeof(float));
  if (max_score == -std::numeric_limits<float>::infinity()) return;
  double sum = 0;
  for (size_t j = 0; j < n; ++j) {
    const float e = meta[j].pos > query_pos ? 0.0f : std::exp(scores[j] - max_score);
    scores[j] = e;
    sum += e;
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (size_t j = 0; j < nq; ++j) {
    scores[j] *= inv;
    if (scores[j] != 0.0f) vk.axpy(scores[j], head.value_codes + j * head.value_row_bytes, out, head_dim, head.group);
  }
  for (size_t j = nq; j < n; ++j) {
    scores[j] *= inv;
    if (scores[j] != 0.0f) kernels::Axpy(scores[j], head.residual_values + (j - nq) * head_dim, out, head_dim);
  }
}

}  // namespace kvlab
