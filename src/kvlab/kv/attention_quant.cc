#include "kvlab/kv/attention_quant.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "kvlab/kv/channel_key_blocks.h"
#include "kvlab/kv/codec.h"
#include "kvlab/ops/attention.h"
#include "kvlab/ops/dot_kernels.h"
#include "kvlab/util/error.h"

namespace kvlab {

void AttendHeadQuantized(const float* q, const QuantizedHead& head, std::span<const SlotMeta> meta,
                         size_t head_dim, float scale, int32_t query_pos, float* scores, float* out,
                         float softcap) {
  const size_t n = meta.size(), nq = head.n_quant;
  if (nq == 0) {  // nothing encoded yet: exactly the f32 attention (bit-identical, whichever path it takes)
    AttendHead(q, head.residual_keys, head.residual_values, meta, head_dim, scale, query_pos, scores, out,
               KvReuse::kAgain, softcap);
    return;
  }
  const CodecKernels kk = KernelsFor(head.k), vk = KernelsFor(head.v);
  constexpr size_t kMaxHeadDim = 1024;
  KVLAB_CHECK(head_dim <= kMaxHeadDim);
  // Scores: encoded prefix through the key codec, then the f32 window in one dense pass.
  if (head.key_per_channel) {
    // q·(min + code ⊙ scale) = q·min + (q ⊙ scale)·code, with the block terms computed once per block:
    // slots of a block are adjacent (blocks are born in order and eviction keeps order).
    float qs[kMaxHeadDim];
    for (size_t j = 0; j < nq;) {
      const uint32_t block = head.key_block_of[j];
      size_t end = j + 1;  // slots [j, end) decode with this block
      while (end < nq && head.key_block_of[end] == block) ++end;
      const float* scale = head.key_block_params + static_cast<size_t>(block) * 2 * head_dim;
      const float* mn = scale + head_dim;
      float qm = 0;
      for (size_t c = 0; c < head_dim; ++c) {
        qs[c] = q[c] * scale[c];
        qm += q[c] * mn[c];
      }
      ChannelCodeDotRows(head.k, head.key_codes + j * head.key_row_bytes, head.key_row_bytes, end - j, qs,
                         head_dim, scores + j);
      for (; j < end; ++j) scores[j] += qm;
    }
  } else {
    kk.dot_rows(head.key_codes, head.key_row_bytes, nq, q, head_dim, head.group, scores);
  }
  if (n > nq) kernels::DotRowsKernel()(head.residual_keys, head_dim, n - nq, q, head_dim, scores + nq);
  std::memset(out, 0, head_dim * sizeof(float));
  if (!CausalSoftmax(scores, meta, scale, query_pos, softcap)) return;
  vk.weighted_sum(head.value_codes, head.value_row_bytes, nq, scores, out, head_dim, head.group);
  // The f32 residual rows after the encoded ones: their weighted sum is added on top.
  const kernels::WeightedRowSumFn weighted_sum = kernels::WeightedRowSumKernel();
  float residual_out[kMaxHeadDim];
  weighted_sum(head.residual_values, head_dim, n - nq, scores + nq, head_dim, residual_out);
  for (size_t i = 0; i < head_dim; ++i) out[i] += residual_out[i];
}

}  // namespace kvlab
