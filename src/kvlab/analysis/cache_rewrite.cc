#include "kvlab/analysis/cache_rewrite.h"

#include <cstring>

namespace kvlab::analysis {

CacheRewrite ReplaceSlots(std::shared_ptr<const CacheReplacement> r) {
  return [r](size_t layer, KvCache& cache) {
    if (layer >= r->keys.size() || r->keys[layer].empty()) return;
    const size_t hd = cache.head_dim(), heads = cache.n_kv_heads();
    for (size_t h = 0; h < heads; ++h) {
      const size_t n = cache.Size(layer, h);
      if (n == 0) continue;
      const size_t slot = n - 1;  // the token this step appended
      const size_t pos = static_cast<size_t>(cache.Meta(layer, h)[slot].pos);
      if ((pos + 1) * heads * hd > r->keys[layer].size()) continue;
      std::memcpy(cache.MutableKeys(layer, h) + slot * hd, r->keys[layer].data() + (pos * heads + h) * hd,
                  hd * sizeof(float));
      std::memcpy(cache.MutableValues(layer, h) + slot * hd, r->values[layer].data() + (pos * heads + h) * hd,
                  hd * sizeof(float));
    }
  };
}

CacheRewrite MaskDims(std::shared_ptr<const DimMask> m) {
  return [m](size_t layer, KvCache& cache) {
    if (layer >= m->keys.size()) return;
    const size_t hd = cache.head_dim();
    for (size_t h = 0; h < cache.n_kv_heads(); ++h) {
      const size_t n = cache.Size(layer, h);
      if (n == 0) continue;
      float* k = cache.MutableKeys(layer, h) + (n - 1) * hd;
      float* v = cache.MutableValues(layer, h) + (n - 1) * hd;
      for (size_t d = 0; d < hd; ++d) {
        if (!m->keys[layer][h * hd + d]) k[d] = 0.0f;
        if (!m->values[layer][h * hd + d]) v[d] = 0.0f;
      }
    }
  };
}

}  // namespace kvlab::analysis
