// RoPE re-rotation of kept keys after eviction (StreamingLLM, Xiao et al., ICLR 2024, §3.2: positions
// are assigned within the cache; llama.cpp's context shift does the same by rotating cached keys).
//
// Keys are cached after RoPE at their original position p, so once tokens are evicted the distance from
// a new query to an old key (sinks, heavy hitters) keeps growing and soon exceeds anything the model was
// trained on. Re-rotation keeps every head's keys at *cache-relative* distances: the k-th newest kept
// slot sits at distance k from the next query, i.e. the head's n slots occupy rope positions
// P - n .. P - 1 where P is the next query position (for a full head that is exactly 0..n-1 with the
// sinks first, shifted by P - n).
//
// Why the query keeps its stream position and only keys move: RoPE attention depends only on the
// difference of the two positions (q·R(p - P)k), so rotating keys to P - n + i gives exactly the logits
// StreamingLLM's cache-relative numbering gives, while SlotMeta::pos (the causal mask, and the
// position-keyed state of h2o / snapkv / sketches) and Model::Forward stay untouched. It is also cheaper:
// after an eviction a kept key moves by the number of evicted slots newer than it, so the newest block
// never moves and a sinks policy re-rotates only its sinks.
//
// Invariant (holds before and after every eviction of the owning policy): slot i of a head with n slots
// is rotated at P - n + i. Appends keep it (new tokens arrive at P, P + 1, ...), so the deltas after an
// eviction follow from slot indices alone and no per-slot state is needed. It breaks if another policy
// evicts from the same cache, which MakePolicy therefore rejects.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "kvlab/kv/cache.h"
#include "kvlab/kv/cache_shape.h"
#include "kvlab/ops/rope.h"

namespace kvlab {

class KeyRerotator {
 public:
  // Throws kvlab::Error("--kv", ...) naming `policy` for models without rotary positions (GPT-2).
  void Bind(const std::string& policy, const KvCacheShape& shape);

  // After cache.Keep(layer, head, kept): `kept` are the survivors' old indices (ascending) out of n_old
  // slots. Rotates each survivor by the number of evicted slots that were newer than it.
  void AfterKeep(KvCache& cache, size_t layer, size_t head, std::span<const uint32_t> kept, size_t n_old);

 private:
  RopeStyle style_ = RopeStyle::kInterleaved;
  // [n_layers] the frequencies each layer's keys were rotated with (LongRoPE: the short table).
  std::vector<RopeFrequencies> layer_freqs_;
  RopeAngles angles_;  // scratch: the angles of one delta
};

}  // namespace kvlab
