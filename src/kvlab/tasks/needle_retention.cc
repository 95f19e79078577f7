#include "kvlab/tasks/needle_retention.h"

#include <algorithm>

namespace kvlab {

void MergeTracker::OnMerge(size_t layer, size_t head, int32_t into_pos, int32_t from_pos) {
  into_[layer * n_kv_heads_ + head][from_pos] = into_pos;
}

int32_t MergeTracker::Root(size_t layer, size_t head, int32_t pos) const {
  const auto& into = into_[layer * n_kv_heads_ + head];
  // A summary slot keeps its founder's position and positions are unique among live slots, so the chain
  // from -> into only ever moves to an older founder: it ends, and is at most as long as the merges.
  for (auto it = into.find(pos); it != into.end(); it = into.find(pos)) pos = it->second;
  return pos;
}

NeedleRetention MeasureNeedleRetention(const KvCache& cache, const std::vector<TokenSpan>& spans,
                                       const MergeTracker* tracker) {
  const size_t layers = cache.n_layers(), heads = cache.n_kv_heads();
  NeedleRetention r;
  r.held_by_layer.assign(layers, 0.0);
  r.merged_by_layer.assign(layers, 0.0);
  r.held_by_head.assign(layers, std::vector<double>(heads, 0.0));
  std::vector<int32_t> positions;
  for (const TokenSpan& s : spans)
    for (int32_t p = s.begin; p < s.end; ++p) positions.push_back(p);
  std::sort(positions.begin(), positions.end());
  positions.erase(std::unique(positions.begin(), positions.end()), positions.end());
  r.needle_tokens = static_cast<int64_t>(positions.size());
  if (positions.empty()) return r;

  const double per_head = 1.0 / static_cast<double>(positions.size());
  for (size_t l = 0; l < layers; ++l) {
    for (size_t h = 0; h < heads; ++h) {
      // Slots are in ascending position order (kv/cache.h), so each lookup is a binary search.
      const std::span<const SlotMeta> meta = cache.Meta(l, h);
      auto find = [&](int32_t pos) -> const SlotMeta* {
        auto it = std::lower_bound(meta.begin(), meta.end(), pos,
                                   [](const SlotMeta& m, int32_t p) { return m.pos < p; });
        return it != meta.end() && it->pos == pos ? &*it : nullptr;
      };
      size_t held = 0, merged = 0;
      for (int32_t p : positions) {
        const SlotMeta* own = find(p);
        if (own != nullptr) {
          (own->count == 1 ? held : merged) += 1;
          continue;
        }
        if (tracker == nullptr) continue;
        const int32_t root = tracker->Root(l, h, p);
        if (root != p && find(root) != nullptr) ++merged;
      }
      r.held_by_head[l][h] = held * per_head;
      r.held_by_layer[l] += held * per_head / heads;
      r.merged_by_layer[l] += merged * per_head / heads;
    }
    r.held += r.held_by_layer[l] / layers;
    r.merged += r.merged_by_layer[l] / layers;
  }
  return r;
}

}  // namespace kvlab
