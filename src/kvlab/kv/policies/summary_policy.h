// SummaryPolicy: eviction that approximates instead of dropping. Tokens a policy would evict are merged
// into a bounded set of *summary slots* per (layer, kv head), each holding the mean key, the mean value and
// the member count (KvCache::Merge); attention gives a summary slot the logit q·k̄ + log(count)
// (ops/attention.h), i.e. the attention its members would get if they all had the mean key.
//
// Used by `cluster` (exact sinks + recent window, everything older summarized) and by
// `sketch:strategy=aggregate` (exact sinks + recent window + heavy hitters by sketch estimate, the rest
// summarized). Which summary an evicted token joins:
//   - assign=kmeans: the nearest summary key (online k-means / sequential leader clustering; MacQueen 1967),
//     by cosine similarity (metric=cosine, default) or squared L2 distance (metric=l2);
//   - assign=lsh: the SimHash bucket of its key (Charikar, STOC 2002; one RACE row, Coleman & Shrivastava,
//     WWW 2020): one summary per bucket, so tokens whose keys point the same way are merged.
// While fewer than `summaries` summaries exist, an evicted token (or, for lsh, the first token of an empty
// bucket) founds a new summary: it simply stays where it is, with count 1.
//
// Positions. The cache requires unique, ascending positions per head. A summary slot keeps the position
// of the token that founded it and never moves: merged members are removed, the summary stays in place,
// so order and uniqueness hold without any reshuffling. Causality holds too: every member was in the cache
// (appended by an earlier chunk, or by the current chunk whose attention already ran) before it was merged,
// so every later query is newer than all members. Positions then no longer say which tokens a slot
// covers; SlotMeta::count says how many, and Σ count over a head's slots = tokens seen (tested).
//
// Budget: at most `budget` slots per head; `summaries` of them are reserved for summaries, sinks and the
// recent window stay exact, the rest goes to the best-scored exact tokens (Score()). Summary slots are
// never evicted by this policy (a later part of a composite may evict them: the bookkeeping follows).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "kvlab/kv/policy.h"
#include "kvlab/kv/score_policy.h"
#include "kvlab/kv/spec.h"
#include "kvlab/ops/f64_dot_kernels.h"
#include "kvlab/sketch/race.h"

namespace kvlab::policies {

struct SummaryOptions {
  enum class Assign { kKmeans, kLsh };
  enum class Metric { kCosine, kL2 };
  size_t summaries = 16;  // summary slots per head
  Assign assign = Assign::kKmeans;
  Metric metric = Metric::kCosine;  // kmeans only
  uint64_t seed = 0;                // lsh only: hyperplanes
};

// Reads summaries (default 16), assign, metric (kmeans) and seed (lsh). `budget` is the slot bound the
// summaries must fit in together with `exact` protected slots (sinks + recent + chunk); 0 for a ratio,
// whose cap CheckRatioCap checks.
SummaryOptions ReadSummaryOptions(PolicyParams& p, size_t budget, size_t exact);
// ",summaries=..,assign=..[,metric=..|,seed=..]" for Spec(); with_seed=false when the owner prints a seed
// key of its own (read by both).
std::string SummarySpec(const SummaryOptions& o, bool with_seed = true);

class SummaryPolicy : public KvPolicy {
 public:
  // b.budget >= b.sinks + b.recent + b.chunk + o.summaries (checked by the factories); with a ratio,
  // b.reserved = o.summaries and the budget follows the stream (ScoreBudget).
  SummaryPolicy(const ScoreBudget& b, const SummaryOptions& o) : budget_(b), options_(o) {}
  void Bind(const KvCacheShape& shape) override;
  // A ratio without a cap bounds nothing: the cache grows with the stream.
  size_t MaxSlots() const override { return budget_.ratio > 0.0 && budget_.budget == 0 ? kUnbounded : budget_.budget; }
  void Compress(size_t layer, KvCache& cache) final;
  size_t MetadataBytes() const override;
  const ScoreBudget& budget() const { return budget_; }
  const SummaryOptions& summary_options() const { return options_; }

 protected:
  // Scores the live slots of one head (higher = more worth keeping exact); summary slots' scores are
  // ignored. out.size() == cache.Size(layer, head).
  virtual void Score(size_t layer, size_t kv_head, const KvCache& cache, std::span<float> out) = 0;
  // Called after slots of one head were evicted or merged, so per-slot state can follow.
  virtual void OnEvicted(size_t layer, size_t kv_head, const KvCache& cache) {}
  // Whether Score and OnEvicted may run for different heads of one layer at the same time (they touch no
  // state shared between heads). Then a layer's heads are evicted on the engine's threads at once.
  virtual bool ScoresHeadsConcurrently() const { return false; }

 private:
  // What one head's eviction works in; one per thread, so eviction allocates nothing and heads of a
  // layer can be evicted concurrently.
  struct HeadScratch {
    std::vector<int32_t> slot_of;     // [summaries] live slot index of each entry, -1 = none
    std::vector<uint8_t> is_summary;  // [slots]
    std::vector<float> scores;        // [slots]
    ScoredSlots candidates;
    std::vector<uint32_t> evict, merged;  // ascending slots: evicted, and of those merged (dropped)
    std::vector<float> key_scratch;       // [1 + kSummaryBlock][head_dim] decoded keys (quantized caches)
    // [kSummaryBlock] each summary's key, its dot product with the evicted key (or, for l2, squared
    // distance) and its squared norm.
    std::vector<const float*> candidate_keys;
    std::vector<double> candidate_dot, candidate_norm2;
  };

  // Evicts one head down to `now` (Compress's work for one head).
  void CompressHead(size_t layer, size_t head, const ScoreBudget& now, KvCache& cache, HeadScratch& s);
  // Finds the live summary slots of one head (dropping table entries another policy evicted); fills
  // s.slot_of and s.is_summary.
  void LocateSummaries(size_t head_index, std::span<const SlotMeta> meta, HeadScratch& s);
  // Table entry the evicted slot joins (or founds, if that entry is empty). Founders' keys are read with
  // KvCache::KeyRow so that quantized caches work too.
  size_t ChooseEntry(size_t head_index, const float* key, const KvCache& cache, size_t layer, size_t head,
                     HeadScratch& s) const;

  ScoreBudget budget_;
  SummaryOptions options_;
  std::optional<RaceSketch> lsh_;  // assign=lsh: one row of `summaries` buckets, shared by all heads
  // [layers * kv_heads][summaries] position of each summary slot's founder, -1 = empty. For lsh the entry
  // index is the bucket.
  std::vector<int32_t> table_;
  size_t n_kv_heads_ = 0;
  std::vector<HeadScratch> scratch_;  // [threads] reused across calls
  std::vector<uint32_t> due_;         // the heads a Compress evicts
  // Slots prefetched per head before a Compress (the sinks, summaries and candidates before the recent
  // window; more than this are rare and cost more than the misses they would save).
  static constexpr size_t kPrefetchSlots = 64;
  // ChooseEntry (kmeans) compares the evicted key with kSummaryBlock summaries at a time.
  static constexpr size_t kSummaryBlock = 16;
  kernels::DotsAndNormsF64Fn dots_and_norms_ = nullptr;
  kernels::SquaredDistancesF64Fn squared_distances_ = nullptr;
};

}  // namespace kvlab::policies
