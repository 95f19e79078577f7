// SketchScores: H2O's accumulated-attention score held in a fixed-size sketch per (layer, kv head) instead
// of one float per slot. Used by the `sketch` policy (sketch.cc); the sketches are in src/kvlab/sketch/.
//
//   type=cms   Count-Min (Cormode & Muthukrishnan 2005), optionally with conservative update (Estan &
//              Varghese 2002): key = token position, weight = attention probability. Never underestimates.
//   type=cs    Count Sketch (Charikar, Chen & Farach-Colton 2002): same keys, signed, median estimate;
//              unbiased, error scales with ||x||_2 rather than ||x||_1.
//   type=race  RACE (Coleman & Shrivastava, WWW 2020): keyed by LSH bucket of vectors instead of position.
//              Observe adds every query vector (weight 1); a slot's score is the RACE estimate at its
//              KEY's buckets, i.e. sum_t k(q_t, key) with the SimHash kernel k = (1 - angle/pi)^bits —
//              the accumulated attention H2O measures, with softmax(q·k) replaced by an angular LSH kernel.
//              Attention rows are not needed (only q), and the score exists for any key, including ones
//              that arrived after the queries (a directional prior rather than a causal tally). Costs
//              depth·bits·head_dim per slot at Compress (hashing the keys): amortize with topk < budget.
//
// decay < 1 multiplies every sum by `decay` once per query (O(1) amortized in the sketches), turning the
// sum into a recency-weighted score. MetadataBytes = the sketches' Bytes(), exactly.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "kvlab/kv/cache.h"
#include "kvlab/kv/policy.h"
#include "kvlab/sketch/count_min.h"
#include "kvlab/sketch/count_sketch.h"
#include "kvlab/sketch/race.h"

namespace kvlab::policies {

struct SketchOptions {
  enum class Type { kCountMin, kCountSketch, kRace };
  Type type = Type::kCountMin;
  size_t width = 512;
  size_t depth = 4;
  int bits = 0;  // race: hyperplanes per row; 0 = ceil(log2(width)) capped at 16 (one bucket per code)
  bool conservative = false;  // cms only
  double decay = 1.0;
  uint64_t seed = 0;
};

class SketchScores {
 public:
  static constexpr size_t kMaxDepth = 64;  // the most rows (Estimate keeps a block's buckets on the stack)
  explicit SketchScores(const SketchOptions& o) : options_(o) {}
  // Builds one sketch per (layer, kv head); seeds differ per head so heads' collisions are independent.
  void Bind(const KvCacheShape& shape);
  // Adds one attention row (cms/cs: probs at slot positions; race: the query).
  void Observe(const AttentionRow& row);
  // Starts loading the counters Observe will update for (layer, kv_head) (KvPolicy::WillObserve).
  void Prefetch(size_t layer, size_t kv_head) const;
  // Estimated score of every live slot of one head. out.size() == cache.Size(layer, head). Safe to call
  // for different heads at once.
  void Estimate(size_t layer, size_t kv_head, const KvCache& cache, std::span<float> out) const;
  size_t Bytes() const;
  const SketchOptions& options() const { return options_; }

 private:
  SketchOptions options_;
  size_t n_kv_heads_ = 0;
  size_t head_dim_ = 0;
  double row_decay_ = 1.0;  // decay^(1/group): one decay per query spread over the group's rows
  std::vector<CountMinSketch> cms_;  // [layers * kv_heads] (type=cms)
  std::vector<CountSketch> cs_;      // [layers * kv_heads] (type=cs)
  std::vector<RaceSketch> race_;     // [layers * kv_heads] (type=race)
  static constexpr size_t kRaceBlock = 16;  // race: keys hashed per BucketsOfMany call in Estimate
};

}  // namespace kvlab::policies
