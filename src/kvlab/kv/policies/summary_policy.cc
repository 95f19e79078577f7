#include "kvlab/kv/policies/summary_policy.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "kvlab/ops/f64_dot_kernels.h"
#include "kvlab/util/error.h"

namespace kvlab::policies {

SummaryOptions ReadSummaryOptions(PolicyParams& p, size_t budget, size_t exact) {
  SummaryOptions o;
  o.summaries = static_cast<size_t>(p.Int("summaries", 16, 1, int64_t{1} << 20));
  const std::string assign = p.Choice("assign", "kmeans", {"kmeans", "lsh"});
  o.assign = assign == "lsh" ? SummaryOptions::Assign::kLsh : SummaryOptions::Assign::kKmeans;
  if (o.assign == SummaryOptions::Assign::kKmeans) {
    o.metric = p.Choice("metric", "cosine", {"cosine", "l2"}) == "l2" ? SummaryOptions::Metric::kL2
                                                                      : SummaryOptions::Metric::kCosine;
  } else {
    o.seed = static_cast<uint64_t>(p.Int("seed", 0, 0, INT64_MAX));
  }
  if (budget > 0 && exact + o.summaries > budget) {  // 0: a ratio's budget (CheckRatioCap)
    throw Error("--kv", p.policy() + ": impossible budget: budget=" + std::to_string(budget) +
                            " < exact slots (sinks + recent + chunk = " + std::to_string(exact) + ") + summaries (" +
                            std::to_string(o.summaries) + ")");
  }
  return o;
}

std::string SummarySpec(const SummaryOptions& o, bool with_seed) {
  std::string s = ",summaries=" + std::to_string(o.summaries);
  if (o.assign == SummaryOptions::Assign::kLsh) return s + ",assign=lsh" + (with_seed ? ",seed=" + std::to_string(o.seed) : "");
  return s + ",assign=kmeans,metric=" + (o.metric == SummaryOptions::Metric::kL2 ? "l2" : "cosine");
}

void SummaryPolicy::Bind(const KvCacheShape& shape) {
  n_kv_heads_ = shape.n_kv_heads;
  table_.assign(shape.n_layers * n_kv_heads_ * options_.summaries, -1);
  scratch_.clear();
  dots_and_norms_ = kernels::DotsAndNormsF64Kernel();
  squared_distances_ = kernels::SquaredDistancesF64Kernel();
  if (options_.assign == SummaryOptions::Assign::kLsh) {
    // One code per summary: bits = ceil(log2(summaries)); codes beyond `summaries` are folded by a hash.
    int bits = 1;
    while ((size_t{1} << bits) < options_.summaries && bits < RaceSketch::kMaxBits) ++bits;
    lsh_.emplace(options_.summaries, 1, shape.head_dim, bits, options_.seed);
  }
}

size_t SummaryPolicy::MetadataBytes() const {
  return table_.size() * sizeof(int32_t) + (lsh_ ? lsh_->Bytes() : 0);
}

namespace {
// The first slot whose position is >= pos (std::lower_bound), without branches: the searches for all
// summaries then overlap instead of each waiting on its mispredicted halvings (about half of them).
size_t FirstAtOrAfter(std::span<const SlotMeta> meta, int32_t pos) {
  if (meta.empty()) return 0;
  const SlotMeta* base = meta.data();
  size_t n = meta.size();
  while (n > 1) {
    const size_t half = n / 2;
    base = base[half - 1].pos < pos ? base + half : base;
    n -= half;
  }
  return static_cast<size_t>(base - meta.data()) + (base->pos < pos ? 1 : 0);
}
}  // namespace

void SummaryPolicy::LocateSummaries(size_t head_index, std::span<const SlotMeta> meta, HeadScratch& s) {
  int32_t* entries = table_.data() + head_index * options_.summaries;
  std::fill(s.is_summary.begin(), s.is_summary.end(), 0);
  for (size_t e = 0; e < options_.summaries; ++e) {
    s.slot_of[e] = -1;
    if (entries[e] < 0) continue;
    // Positions are ascending: binary search. A founder missing from the cache was evicted by another
    // part of a composite; its entry becomes free again.
    const size_t slot = FirstAtOrAfter(meta, entries[e]);
    if (slot == meta.size() || meta[slot].pos != entries[e]) {
      entries[e] = -1;
      continue;
    }
    s.slot_of[e] = static_cast<int32_t>(slot);
    s.is_summary[slot] = 1;
  }
}

size_t SummaryPolicy::ChooseEntry(size_t head_index, const float* key, const KvCache& cache, size_t layer,
                                  size_t head, HeadScratch& s) const {
  const size_t head_dim = cache.head_dim();
  if (lsh_) {
    return lsh_->Bucket(0, {key, head_dim});
  }
  const int32_t* entries = table_.data() + head_index * options_.summaries;
  // Found a new summary while there is room (the table fills in order and entries only empty when another
  // policy evicts a summary, so any free entry will do).
  for (size_t e = 0; e < options_.summaries; ++e) {
    if (entries[e] < 0) return e;
  }
  // The summaries' keys kSummaryBlock at a time, in double (ops/f64_dot_kernels.h: the same choice on every
  // machine); a block's keys are decoded into scratch first when the cache is quantized.
  const bool l2 = options_.metric == SummaryOptions::Metric::kL2;
  const float* plain_keys = cache.quantized() ? nullptr : cache.Keys(layer, head);  // [slots][head_dim]
  size_t best = 0;
  float best_score = -std::numeric_limits<float>::infinity();
  for (size_t e0 = 0; e0 < options_.summaries; e0 += kSummaryBlock) {
    const size_t k = std::min(kSummaryBlock, options_.summaries - e0);
    for (size_t j = 0; j < k; ++j) {
      const size_t slot = static_cast<size_t>(s.slot_of[e0 + j]);
      s.candidate_keys[j] = plain_keys != nullptr
                                ? plain_keys + slot * head_dim
                                : cache.KeyRow(layer, head, slot, s.key_scratch.data() + (1 + j) * head_dim);
    }
    if (l2) {
      squared_distances_(key, s.candidate_keys.data(), k, head_dim, s.candidate_dot.data());
    } else {
      dots_and_norms_(key, s.candidate_keys.data(), k, head_dim, s.candidate_dot.data(), s.candidate_norm2.data());
    }
    for (size_t j = 0; j < k; ++j) {
      // cosine: |key| is the same for every candidate, so key·c / |c| ranks like the cosine.
      const double score = l2 ? -s.candidate_dot[j] : s.candidate_dot[j] / std::sqrt(s.candidate_norm2[j] + 1e-30);
      if (score > best_score) {
        best_score = static_cast<float>(score);
        best = e0 + j;
      }
    }
  }
  return best;
}

void SummaryPolicy::Compress(size_t layer, KvCache& cache) {
  const ScoreBudget now = BudgetAt(budget_, TokensSeen(cache, layer));  // budget_ itself without a ratio
  due_.clear();
  for (size_t head = 0; head < cache.n_kv_heads(); ++head) {
    if (cache.Size(layer, head) > now.budget) due_.push_back(static_cast<uint32_t>(head));
  }
  // What eviction reads and moves lies before the recent window: the candidates, the summaries, the sinks.
  // Loading it for all of a thread's heads before the first needs it overlaps the cache misses that one head
  // at a time would wait for in turn (it was evicted from the caches since the step's attention read it).
  auto prefetch = [&](size_t head) {
    const size_t n = cache.Size(layer, head);
    cache.Prefetch(layer, head, 0, std::min(n - std::min(n, now.recent), kPrefetchSlots));
  };
  // Heads share nothing but the read-only options (their table rows, cache rows and the subclass's
  // per-head state are their own). Not for quantized caches (whose compaction and merges use the cache's
  // own scratch) nor when a merge observer is told of every merge in order.
  const size_t threads = EvictionThreads(
      due_.size(), ScoresHeadsConcurrently() && !cache.quantized() && !cache.has_merge_observer());
  while (scratch_.size() < threads) {
    HeadScratch& s = scratch_.emplace_back();
    s.slot_of.assign(options_.summaries, -1);
    s.candidate_keys.assign(kSummaryBlock, nullptr);
    s.candidate_dot.assign(kSummaryBlock, 0.0);
    s.candidate_norm2.assign(kSummaryBlock, 0.0);
  }
  // Each thread asks for its own heads' lines: issued by one thread for all, they arrived in its core's
  // caches and the other thread fetched its half from there (two threads were then slower than one).
  EvictInRuns(due_.size(), threads, [&](size_t begin, size_t end, size_t t) {
    for (size_t i = begin; i < end; ++i) prefetch(due_[i]);
    for (size_t i = begin; i < end; ++i) CompressHead(layer, due_[i], now, cache, scratch_[t]);
  });
}

void SummaryPolicy::CompressHead(size_t layer, size_t head, const ScoreBudget& now, KvCache& cache,
                                 HeadScratch& s) {
  const size_t head_dim = cache.head_dim();
  const size_t n = cache.Size(layer, head);
  const size_t head_index = layer * n_kv_heads_ + head;
  std::span<const SlotMeta> meta = cache.Meta(layer, head);
  s.is_summary.resize(n);
  LocateSummaries(head_index, meta, s);
  s.scores.resize(n);
  Score(layer, head, cache, s.scores);

  // Exact slots always kept: sinks and the recent window. Everything else that is not a summary competes
  // for the budget left after reserving every summary slot.
  const size_t recent_from = n - std::min(n, now.recent);
  size_t n_protected = n - recent_from;  // the recent window's slots, less the summaries among them
  for (int32_t slot : s.slot_of) n_protected -= slot >= 0 && static_cast<size_t>(slot) >= recent_from;
  s.candidates.clear();
  for (size_t i = 0; i < recent_from; ++i) {
    if (s.is_summary[i]) continue;
    if (static_cast<size_t>(meta[i].pos) < now.sinks) {
      ++n_protected;
    } else {
      s.candidates.emplace_back(s.scores[i], static_cast<uint32_t>(i));
    }
  }
  const size_t target = now.budget - now.chunk;
  const size_t reserved = n_protected + options_.summaries;
  const size_t take = std::min(s.candidates.size(), target > reserved ? target - reserved : 0);
  PartitionBest(s.candidates, take);
  s.evict.clear();
  for (size_t c = take; c < s.candidates.size(); ++c) s.evict.push_back(s.candidates[c].second);
  std::sort(s.evict.begin(), s.evict.end());  // oldest first: founders are the oldest evicted tokens

  // Fold each evicted slot into its summary, or let it found one. `is_summary` doubles as the drop mark
  // (2 = merged away).
  int32_t* entries = table_.data() + head_index * options_.summaries;
  // Decoded keys (quantized caches): the evicted one, then a block of summaries'.
  s.key_scratch.resize((1 + kSummaryBlock) * head_dim);
  for (uint32_t slot : s.evict) {
    const float* key = cache.KeyRow(layer, head, slot, s.key_scratch.data());
    const size_t e = ChooseEntry(head_index, key, cache, layer, head, s);
    if (entries[e] < 0) {
      entries[e] = meta[slot].pos;
      s.slot_of[e] = static_cast<int32_t>(slot);
      s.is_summary[slot] = 1;
    } else {
      cache.Merge(layer, head, static_cast<uint32_t>(s.slot_of[e]), slot);
      s.is_summary[slot] = 2;
    }
  }
  s.merged.clear();
  for (uint32_t slot : s.evict) {
    if (s.is_summary[slot] == 2) s.merged.push_back(slot);
  }
  cache.Drop(layer, head, s.merged);
  OnEvicted(layer, head, cache);
}

}  // namespace kvlab::policies
