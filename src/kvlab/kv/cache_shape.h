// KvCacheShape: what the cache and its policies know about the model they serve. kv/ sits below model/,
// so it never sees a ModelConfig; model/ describes itself with ModelConfig::CacheShape().
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "kvlab/ops/rope_frequencies.h"
#include "kvlab/ops/rope_style.h"

namespace kvlab {

struct KvCacheShape {
  size_t n_layers = 0;
  size_t n_heads = 0;     // query heads (policies that map a query head to its kv head, GQA)
  size_t n_kv_heads = 0;  // heads the cache stores per layer
  size_t head_dim = 0;

  // How the cached keys were rotated, for re-rotating them after an eviction (kv/rerotate.h).
  RopeStyle rope_style = RopeStyle::kInterleaved;
  // [n_layers] the RoPE table each layer's keys were rotated with (LongRoPE: the short one); empty when
  // the model has no rotary positions (GPT-2's learned absolute positions).
  std::vector<RopeFrequencies> layer_rope;
  // The model family ("llama", "gpt2", ...), for messages.
  std::string arch_name;

  bool HasRope() const { return !layer_rope.empty(); }
};

}  // namespace kvlab
