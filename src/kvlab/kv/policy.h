// KvPolicy: what decides which slots of a KvCache survive (kvpress's "press", llama.cpp's sampler shape).
//
// Life of a policy inside Model::Forward, per chunk of tokens:
//   1. the model appends the chunk's K/V to the cache (the cache may briefly exceed the budget by the
//      chunk size, which is why a policy's cache has capacity MaxSlots() + chunk);
//   2. attention runs; policies that WantsAttention() get every attention row through Observe() — rows the
//      forward pass computed anyway, so scoring costs no extra matrix work;
//   3. Compress(layer, cache) runs for every layer and must leave at most MaxSlots() slots per head.
// Each stream owns its policy instance (Clone() makes another, with identical state).
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <span>
#include <string>

#include "kvlab/kv/cache.h"
#include "kvlab/kv/cache_shape.h"

namespace kvlab {

// One attention row of one query head over the live slots of its kv head.
struct AttentionRow {
  size_t layer = 0;
  size_t head = 0;     // query head
  size_t kv_head = 0;  // the kv head it reads (head / (n_heads / n_kv_heads))
  int32_t query_pos = 0;
  std::span<const float> probs;     // [slots] softmax probabilities; 0 for slots after query_pos
  std::span<const SlotMeta> slots;  // [slots] the slots the probabilities refer to
  const float* q = nullptr;      // [head_dim] the query, after RoPE
};

class KvPolicy {
 public:
  static constexpr size_t kUnbounded = std::numeric_limits<size_t>::max();
  virtual ~KvPolicy() = default;

  // Canonical spec of this policy (parsable by MakePolicy).
  virtual std::string Spec() const = 0;
  // Sizes per-layer/per-head state for a model; called once before the first token of a stream.
  virtual void Bind(const KvCacheShape& shape) {}
  // Most slots per (layer, kv head) left after Compress; kUnbounded for the full cache.
  virtual size_t MaxSlots() const = 0;
  // Whether Observe should be called. Calls for one (layer, kv_head) never overlap; different kv heads
  // may be observed concurrently from different threads.
  virtual bool WantsAttention() const { return false; }
  virtual void Observe(const AttentionRow& row) {}
  // A hint, when WantsAttention(): the attention of (layer, kv_head) is about to run on this thread, and its
  // rows will come to Observe. A policy can start loading the state Observe will touch (sketch counters),
  // so that the misses overlap the attention instead of stalling Observe.
  virtual void WillObserve(size_t layer, size_t kv_head) {}
  // Enforces the budget on one layer after a chunk of tokens.
  virtual void Compress(size_t layer, KvCache& cache) = 0;
  // Called after the cache of `layer` was changed by someone else (another part of a composite), so
  // per-slot state can drop what was evicted; keeps MetadataBytes exact.
  virtual void OnCacheChanged(size_t layer, const KvCache& cache) {}
  // How the stream's KvCache must store keys and values (kv/codec.h): all-f32 unless a `quant` part asks
  // for a codec. Fixed for the life of the stream; build the cache with CacheCodecFor(policy).
  virtual KvCodec Codec() const { return {}; }
  // Bytes of policy state that count as KV memory (scores, sketch counters, ...), exact.
  virtual size_t MetadataBytes() const { return 0; }
  virtual std::unique_ptr<KvPolicy> Clone() const = 0;
};

// Slots per head a stream's cache needs: the whole context when nothing bounds it, else the policy's
// bound plus one chunk of appended tokens (the most the cache holds between append and Compress).
inline size_t RequiredCapacity(const KvPolicy* policy, size_t context, size_t max_batch) {
  if (policy == nullptr || policy->MaxSlots() == KvPolicy::kUnbounded) return context;
  return policy->MaxSlots() + max_batch;
}

// The codec a stream's cache must be built with: KvCache cache(shape, RequiredCapacity(...),
// CacheCodecFor(policy)). Model::Forward refuses a cache whose codec differs from its policy's.
inline KvCodec CacheCodecFor(const KvPolicy* policy) { return policy == nullptr ? KvCodec{} : policy->Codec(); }

}  // namespace kvlab
