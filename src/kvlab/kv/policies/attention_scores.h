// Per-slot attention statistics kept by attention-scored policies (h2o, tova): one float per live slot
// of every (layer, kv head).
//
// The scores follow the cache by position, not by index: any policy (this one, or a later part of a
// composite "h2o:...+window:...") may evict slots, so before use the stored positions are lined up with
// the cache's. Positions are unique and ascending in every head (a tested cache invariant), which makes
// the check O(1) when nothing was evicted and an O(slots) merge when something was.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "kvlab/kv/cache.h"
#include "kvlab/kv/policy.h"
#include "kvlab/kv/score_policy.h"

namespace kvlab::policies {

class SlotScores {
 public:
  void Bind(const KvCacheShape& shape) {
    n_kv_heads_ = shape.n_kv_heads;
    heads_.assign(shape.n_layers * n_kv_heads_, {});
  }

  // Scores of one head aligned with `slots` (new slots start at 0, evicted ones are dropped).
  std::vector<float>& Sync(size_t layer, size_t kv_head, std::span<const SlotMeta> slots) {
    Head& h = heads_[layer * n_kv_heads_ + kv_head];
    const size_t k = h.pos.size();
    const bool unchanged_prefix =
        k <= slots.size() && (k == 0 || (h.pos[0] == slots[0].pos && h.pos[k - 1] == slots[k - 1].pos));
    if (!unchanged_prefix) Remap(h, slots);
    for (size_t i = h.pos.size(); i < slots.size(); ++i) {
      h.pos.push_back(slots[i].pos);
      h.score.push_back(0.0f);
    }
    return h.score;
  }

  void SyncLayer(size_t layer, const KvCache& cache) {
    for (size_t h = 0; h < n_kv_heads_; ++h) Sync(layer, h, cache.Meta(layer, h));
  }

  size_t Bytes() const {
    size_t b = 0;
    for (const Head& h : heads_) b += h.score.size() * sizeof(float);
    return b;
  }

 private:
  struct Head {
    std::vector<int32_t> pos;  // [live slots] position each score belongs to
    std::vector<float> score;  // [live slots]
  };
  // Keeps the scores of positions still present, in the cache's order.
  static void Remap(Head& h, std::span<const SlotMeta> slots) {
    size_t src = 0, out = 0;
    for (size_t i = 0; i < slots.size(); ++i) {
      while (src < h.pos.size() && h.pos[src] < slots[i].pos) ++src;
      if (src >= h.pos.size() || h.pos[src] != slots[i].pos) break;  // the rest are new slots
      h.score[out] = h.score[src];
      h.pos[out] = h.pos[src];
      ++out;
    }
    h.pos.resize(out);
    h.score.resize(out);
  }

  size_t n_kv_heads_ = 0;
  std::vector<Head> heads_;  // [layers * kv_heads]
};

// A ScorePolicy whose score is an attention statistic accumulated per slot (h2o, tova): everything but
// how a row is folded into the scores (Observe) is shared here.
class AttentionScorePolicy : public ScorePolicy {
 public:
  using ScorePolicy::ScorePolicy;
  void OnBind(const KvCacheShape& shape) override { scores_.Bind(shape); }
  bool ScoresNeedAttention() const override { return true; }
  void OnCacheChanged(size_t layer, const KvCache& cache) override { scores_.SyncLayer(layer, cache); }
  size_t ScoreMetadataBytes() const override { return scores_.Bytes(); }

 protected:
  void Score(size_t layer, size_t head, const KvCache& cache, std::span<float> out) override {
    const std::vector<float>& s = scores_.Sync(layer, head, cache.Meta(layer, head));
    std::copy(s.begin(), s.begin() + out.size(), out.begin());
  }
  void OnEvicted(size_t layer, size_t head, const KvCache& cache) override {
    scores_.Sync(layer, head, cache.Meta(layer, head));
  }
  bool ScoresHeadsConcurrently() const override { return true; }  // SlotScores keeps each head apart

  SlotScores scores_;
};

}  // namespace kvlab::policies
