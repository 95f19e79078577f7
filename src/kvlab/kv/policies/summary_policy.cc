#include "kvlab/kv/policies/summary_policy.h"

#include <algorithm>
#include <cmath>
#include <limits>

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

void SummaryPolicy::LocateSummaries(size_t head_index, std::span<const SlotMeta> meta) {
  int32_t* entries = table_.data() + head_index * options_.summaries;
  std::fill(is_summary_.begin(), is_summary_.end(), 0);
  for (size_t e = 0; e < options_.summaries; ++e) {
    slot_of_[e] = -1;
    if (entries[e] < 0) continue;
    // Positions are ascending: binary search. A founder missing from the cache was evicted by another
    // part of a composite; its entry becomes free again.
    auto it = std::lower_bound(meta.begin(), meta.end(), entries[e],
                               [](const SlotMeta& m, int32_t pos) { return m.pos < pos; });
    if (it == meta.end() || it->pos != entries[e]) {
      entries[e] = -1;
      continue;
    }
    slot_of_[e] = static_cast<int32_t>(it - meta.begin());
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
  size_t best = 0;
  float best_score = -std::numeric_limits<float>::infinity();
  for (size_t e = 0; e < options_.summaries; ++e) {
    const float* c = cache.KeyRow(layer, head, static_cast<size_t>(slot_of_[e]), key_scratch_.data() + head_dim);
    double dot = 0, cc = 0, dist = 0;
    for (size_t i = 0; i < head_dim; ++i) {
      dot += static_cast<double>(key[i]) * c[i];
      cc += static_cast<double>(c[i]) * c[i];
      const double d = static_cast<double>(key[i]) - c[i];
      dist += d * d;
    }
    // cosine: |key| is the same for every candidate, so dot / |c| ranks like the cosine.
    const double s = options_.metric == SummaryOptions::Metric::kL2 ? -dist : dot / std::sqrt(cc + 1e-30);
    if (s > best_score) {
      best_score = static_cast<float>(s);
      best = e;
    }
  }
  return best;
}

void SummaryPolicy::Compress(size_t layer, KvCache& cache) {
  const size_t head_dim = cache.head_dim();
  const ScoreBudget now = BudgetAt(budget_, TokensSeen(cache, layer));  // budget_ itself without a ratio
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
    size_t n_protected = 0;
    candidates_.clear();
    for (size_t i = 0; i < n; ++i) {
      if (is_summary_[i]) continue;
      if (static_cast<size_t>(meta[i].pos) < now.sinks || i >= recent_from) {
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
    // (2 = merged away) so the kept list is one pass.
    int32_t* entries = table_.data() + head_index * options_.summaries;
    key_scratch_.resize(2 * head_dim);
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
    kept_.clear();
    for (size_t i = 0; i < n; ++i) {
      if (is_summary_[i] != 2) kept_.push_back(static_cast<uint32_t>(i));
    }
    cache.Keep(layer, head, kept_);
    OnEvicted(layer, head, cache);
  }
}

}  // namespace kvlab::policies
