// KvTrace: one teacher-forced pass of a text through a model, token by token over a full (never evicting)
// cache, recording what the analysis modes look at: next-token log-probabilities, optionally every
// attention row, and the final K/V of every layer.
//
// Attention is captured without touching the model: a recording KvPolicy (WantsAttention, MaxSlots
// unbounded) receives every row Model::Forward computes. The same policy's Compress hook can rewrite the
// cache in place after each token (Tucker reconstructions, dropped dimensions): the token that was just
// appended attends to its own exact K/V once, and every later query sees the rewritten rows.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "kvlab/kv/cache.h"
#include "kvlab/model/model.h"

namespace kvlab::analysis {

struct TraceOptions {
  bool record_attention = false;
  // After each token, for every layer (plain f32 cache): may rewrite that layer's slots in place.
  std::function<void(size_t layer, KvCache& cache)> rewrite;
  // After the given ids, greedily generate this many more tokens (argmax), recorded like the others.
  int32_t generate = 0;
};

struct KvTrace {
  size_t tokens = 0, n_layers = 0, n_heads = 0, n_kv_heads = 0, head_dim = 0, vocab = 0;
  std::vector<int32_t> ids;      // [tokens] the ids that were run (given + generated)
  std::vector<float> logprobs;   // [tokens][vocab] log-softmax of the distribution after token t
  std::vector<float> attention;  // [layers][heads][tokens][tokens] row = query, col = key position
  std::vector<float> keys;       // [layers][tokens][kv_heads][head_dim] the cache after the last token
  std::vector<float> values;     // [layers][tokens][kv_heads][head_dim]

  std::span<const float> Map(size_t layer, size_t head) const {
    return {attention.data() + (layer * n_heads + head) * tokens * tokens, tokens * tokens};
  }
  std::span<const float> LayerKeys(size_t layer) const {
    return {keys.data() + layer * tokens * n_kv_heads * head_dim, tokens * n_kv_heads * head_dim};
  }
  std::span<const float> LayerValues(size_t layer) const {
    return {values.data() + layer * tokens * n_kv_heads * head_dim, tokens * n_kv_heads * head_dim};
  }
  const float* LogProbs(size_t t) const { return logprobs.data() + t * vocab; }
};

// ids must be non-empty and fit the model's context (checked: kvlab::Error).
KvTrace RunTrace(const Model& model, std::span<const int32_t> ids, const TraceOptions& options = {});

}  // namespace kvlab::analysis
