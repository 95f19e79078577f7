// Attention of one query head over the live slots of one kv head (the cache hands over raw spans;
// ops never see policies).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "kvlab/ops/slot_meta.h"

namespace kvlab {

// Turns raw dot products q·k_j [n] into attention probabilities in place: scale, add log(count) for summary
// slots, mask slots after query_pos (probability exactly 0), softmax. Returns false, every probability 0,
// when no slot is visible (cannot happen in a causal stream: the query's own token is always there).
// softcap > 0 (Gemma 2) first maps each scaled logit x to softcap * tanh(x / softcap).
bool CausalSoftmax(float* scores, std::span<const SlotMeta> meta, float scale, int32_t query_pos,
                   float softcap = 0.0f);

// out[head_dim] = sum_j softmax_j(q·k_j * scale + log(count_j)) v_j over slots j whose position <= query_pos
// (causal). count_j is 1 for an ordinary slot; a summary slot standing for count_j merged tokens (mean key
// and value, kv/cache.h Merge) gets log(count_j) added to its logit, so it weighs as much as count_j
// tokens with its mean key would.
// keys, values: [n_slots][head_dim]; scores: scratch of at least n_slots floats, left holding the
// attention probabilities (masked slots get 0) so observers can read the row without recomputing it.
// With AVX-512 and head_dim a multiple of 16 up to 128, one pass in blocks of 16 slots with a running
// softmax (ops/attention_stream.h). Otherwise short heads take two passes (all keys, softmax, all values)
// and longer ones one pass in blocks of 128 slots with a running softmax, so keys and values stream from
// memory together. All paths give the same result up to rounding.
// reuse: whether another query head reads the same keys and values right after this one (the heads of a
// grouped-query group). kOnce lets the AVX-512 kernel stream them past L2 (measured at depth 1024, MHA:
// step -2-4%); kAgain, the default, keeps them in L2 for the next head.
// softcap > 0: logits soft-capped as in CausalSoftmax (Gemma 2); such heads take the two-pass path.
enum class KvReuse { kOnce, kAgain };
void AttendHead(const float* q, const float* keys, const float* values, std::span<const SlotMeta> meta,
                size_t head_dim, float scale, int32_t query_pos, float* scores, float* out,
                KvReuse reuse = KvReuse::kAgain, float softcap = 0.0f);

}  // namespace kvlab
