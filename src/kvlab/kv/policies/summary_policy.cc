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
  slot_of_.assign(options_.summaries, -1);
  candidate_keys_.assign(kSummaryBlock, nullptr);
  candidate_dot_.assign(kSummaryBlock, 0.0);
  candidate_norm2_.assign(kSummaryBlock, 0.0);
  dots_and_norms_ = kernels::DotsAndNormsF64Kernel();
  squared_distances_ = kernels::SquaredDistancesF64Kernel();
  if (options_.assign == SummaryOptions::Assign::kLsh) {
    // One code per summary: bits = ceil(log2(summaries)); codes beyond `summaries` are folded by a hash.
    int bits = 1;
    while ((size_t{1} << bits) < options_.summaries && bits < RaceSketch::kMaxBits) ++bits;
    lsh_.emplace(options_.summaries, 1, shape.head_dim, bits, options_.seed);
    buckets_.assign(1, 0);
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

void SummaryPolicy::LocateSummaries(size_t head_index, std::span<const SlotMeta> meta) {
  int32_t* entries = table_.data() + head_index * options_.summaries;
  std::fill(is_summary_.begin(), is_summary_.end(), 0);
  for (size_t e = 0; e < options_.summaries; ++e) {
    slot_of_[e] = -1;
    if (entries[e] < 0) continue;
    // Positions are ascending: binary search. A founder missing from the cache was evicted by another
    // part of a composite; its entry becomes free again.
    const size_t slot = FirstAtOrAfter(meta, entries[e]);
    if (slot == meta.size() || meta[slot].pos != entries[e]) {
      entries[e] = -1;
      continue;
    }
    slot_of_[e] = static_cast<int32_t>(slot);
    is_summary_[static_cast<size_t>(slot_of_[e])] = 1;
  }
}

size_t SummaryPolicy::ChooseEntry(size_t head_index, const float* key, const KvCache& cache, size_t layer,
                                  size_t head) {
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
      const size_t slot = static_cast<size_t>(slot_of_[e0 + j]);
      candidate_keys_[j] = plain_keys != nullptr ? plain_keys + slot * head_dim
                                                 : cache.KeyRow(layer, head, slot, key_scratch_.data() + (1 + j) * head_dim);
    }
    if (l2) {
      squared_distances_(key, candidate_keys_.data(), k, head_dim, candidate_dot_.data());
    } else {
      dots_and_norms_(key, candidate_keys_.data(), k, head_dim, candidate_dot_.data(), candidate_norm2_.data());
    }
    for (size_t j = 0; j < k; ++j) {
      // cosine: |key| is the same for every candidate, so key·c / |c| ranks like the cosine.
      const double s = l2 ? -candidate_dot_[j] : candidate_dot_[j] / std::sqrt(candidate_norm2_[j] + 1e-30);
      if (s > best_score) {
        best_score = static_cast<float>(s);
        best = e0 + j;
      }
    }
  }
  return best;
}

void SummaryPolicy::Compress(size_t layer, KvCache& cache) {
  const size_t head_dim = cache.head_dim();
  const ScoreBudget now = BudgetAt(budget_, TokensSeen(cache, layer));  // budget_ itself without a ratio
  // What eviction reads and moves lies before the recent window: the candidates, the summaries, the sinks.
  // Loading it for every head at once, before the first needs it, overlaps the cache misses that one head
  // at a time would wait for in turn (it was evicted from the caches since the step's attention read it).
  for (size_t head = 0; head < cache.n_kv_heads(); ++head) {
    const size_t n = cache.Size(layer, head);
    if (n > now.budget) cache.Prefetch(layer, head, 0, std::min(n - std::min(n, now.recent), kPrefetchSlots));
  }
  for (size_t head = 0; head < cache.n_kv_heads(); ++head) {
    const size_t n = cache.Size(layer, head);
    if (n <= now.budget) continue;
    const size_t head_index = layer * n_kv_heads_ + head;
    std::span<const SlotMeta> meta = cache.Meta(layer, head);
    is_summary_.resize(n);
    LocateSummaries(head_index, meta);
    scores_.resize(n);
    Score(layer, head, cache, scores_);

    // Exact slots always kept: sinks and the recent window. Everything else that is not a summary competes
    // for the budget left after reserving every summary slot.
    const size_t recent_from = n - std::min(n, now.recent);
    size_t n_protected = n - recent_from;  // the recent window's slots, less the summaries among them
    for (int32_t slot : slot_of_) n_protected -= slot >= 0 && static_cast<size_t>(slot) >= recent_from;
    candidates_.clear();
    for (size_t i = 0; i < recent_from; ++i) {
      if (is_summary_[i]) continue;
      if (static_cast<size_t>(meta[i].pos) < now.sinks) {
        ++n_protected;
      } else {
        candidates_.emplace_back(scores_[i], static_cast<uint32_t>(i));
      }
    }
    const size_t target = now.budget - now.chunk;
    const size_t reserved = n_protected + options_.summaries;
    const size_t take = std::min(candidates_.size(), target > reserved ? target - reserved : 0);
    auto better = [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second > b.second); };
    std::nth_element(candidates_.begin(), candidates_.begin() + take, candidates_.end(), better);
    evict_.clear();
    for (size_t c = take; c < candidates_.size(); ++c) evict_.push_back(candidates_[c].second);
    std::sort(evict_.begin(), evict_.end());  // oldest first: founders are the oldest evicted tokens

    // Fold each evicted slot into its summary, or let it found one. `is_summary_` doubles as the drop mark
    // (2 = merged away).
    int32_t* entries = table_.data() + head_index * options_.summaries;
    // Decoded keys (quantized caches): the evicted one, then a block of summaries'.
    key_scratch_.resize((1 + kSummaryBlock) * head_dim);
    for (uint32_t slot : evict_) {
      const float* key = cache.KeyRow(layer, head, slot, key_scratch_.data());
      const size_t e = ChooseEntry(head_index, key, cache, layer, head);
      if (entries[e] < 0) {
        entries[e] = meta[slot].pos;
        slot_of_[e] = static_cast<int32_t>(slot);
        is_summary_[slot] = 1;
      } else {
        cache.Merge(layer, head, static_cast<uint32_t>(slot_of_[e]), slot);
        is_summary_[slot] = 2;
      }
    }
    merged_.clear();
    for (uint32_t slot : evict_) {
      if (is_summary_[slot] == 2) merged_.push_back(slot);
    }
    cache.Drop(layer, head, merged_);
    OnEvicted(layer, head, cache);
  }
}

}  // namespace kvlab::policies
