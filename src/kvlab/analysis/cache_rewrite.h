// Rewrite hooks for KvTrace (kv_trace.h): after each token, the slot that token just appended is replaced
// in place (plain f32 cache), so every later query attends to the modified K/V.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "kvlab/kv/cache.h"

namespace kvlab::analysis {

using CacheRewrite = std::function<void(size_t layer, KvCache& cache)>;

// Replacement K/V per layer, each [tokens][kv_heads][head_dim]; an empty layer is left alone.
struct CacheReplacement {
  std::vector<std::vector<float>> keys, values;  // [layers]
};
// Slot at position p of layer l takes keys[l][p] / values[l][p]. The object is read at every call, so a
// caller may fill more layers between traces.
CacheRewrite ReplaceSlots(std::shared_ptr<const CacheReplacement> replacement);

// Keep masks per layer, [kv_heads][head_dim], 1 = keep, 0 = zero that dimension of the key / value.
struct DimMask {
  std::vector<std::vector<uint8_t>> keys, values;  // [layers]
};
CacheRewrite MaskDims(std::shared_ptr<const DimMask> mask);

}  // namespace kvlab::analysis
