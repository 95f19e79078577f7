// Simulated pruning of layers and KV heads, done on a copy of the weights so the forward pass is untouched.
//
//   removing layer L      = the block becomes the identity on the residual stream: w_o and w_down (and their
//                           biases) are zeroed, so x + attn(x)·0 + mlp(x)·0 = x. Exactly "skip the layer".
//   removing KV head (L,h) = every query head that reads KV head h (its GQA group) contributes nothing:
//                           the columns of w_o that read those heads' outputs are zeroed. That is what
//                           dropping the head's keys and values from the cache would do, without an
//                           empty softmax. The K/V are still computed (and cached); they are simply unused.
// An empty spec changes nothing: the weights are left as loaded and results are bit-identical.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "kvlab/model/weights.h"

namespace kvlab::analysis {

struct PruneSpec {
  std::vector<size_t> layers;                    // layers to remove
  std::vector<std::pair<size_t, size_t>> heads;  // (layer, kv head) pairs to remove
  bool empty() const { return layers.empty() && heads.empty(); }
  std::string ToString() const;  // "layers=0,1 heads=2:3" style, "none" when empty
};

// "0,1" and "2:3,4:0" (either may be empty). Throws kvlab::Error naming the flag on bad syntax or indices
// outside the model.
PruneSpec ParsePruneSpec(const std::string& layers, const std::string& heads, const ModelConfig& config);

// Rewrites the weights of `model` (before it is handed to Model). Only f32 weights (checked: kvlab::Error).
void ApplyPrune(LoadedModel& model, const PruneSpec& spec);

}  // namespace kvlab::analysis
