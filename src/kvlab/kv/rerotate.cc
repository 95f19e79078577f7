#include "kvlab/kv/rerotate.h"

#include "kvlab/util/error.h"

namespace kvlab {

void KeyRerotator::Bind(const std::string& policy, const KvCacheShape& shape) {
  if (!shape.HasRope()) {
    throw Error("--kv", policy + ": rerotate=true needs rotary position embeddings (RoPE), but this " +
                            shape.arch_name + " model has learned absolute positions",
                "drop rerotate=true for GPT-2 models");
  }
  style_ = shape.rope_style;
  layer_freqs_ = shape.layer_rope;
  // Size the scratch now, so eviction never allocates.
  angles_.Compute(0, layer_freqs_.front());
}

void KeyRerotator::AfterKeep(KvCache& cache, size_t layer, size_t head, std::span<const uint32_t> kept,
                             size_t n_old) {
  const size_t n = kept.size(), d = cache.head_dim();
  if (n == 0 || n == n_old) return;
  float* keys = cache.MutableKeys(layer, head);  // [n][head_dim], compacted by Keep
  // delta(j) = evicted slots after old index kept[j] = (n_old - 1 - kept[j]) - (n - 1 - j); it only
  // grows towards the oldest slots, so equal deltas form runs that share one set of angles.
  size_t end = n;
  while (end > 0) {
    const size_t j = end - 1;
    const size_t delta = (n_old - 1 - kept[j]) - (n - 1 - j);
    size_t begin = j;
    while (begin > 0 && (n_old - 1 - kept[begin - 1]) - (n - begin) == delta) --begin;
    if (delta != 0) ShiftRope(keys + begin * d, end - begin, d, style_, static_cast<int32_t>(delta), layer_freqs_[layer],
                              angles_);
    end = begin;
  }
}

}  // namespace kvlab
