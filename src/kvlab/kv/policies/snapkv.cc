// snapkv: SnapKV (Li et al., "SnapKV: LLM Knows What You are Looking for Before Generation", NeurIPS 2024).
// The attention of the last `window` queries (the observation window), summed over the query heads that
// share a kv head, votes for earlier slots; the votes are max-pooled along positions with kernel `pool` so
// a kept token brings its neighbours (keeps phrases whole); keep sinks + recent window + the top votes.
//
// When votes are (re)computed, per head, at the first eviction of that head and then:
//   - whenever several queries arrived since the last eviction (a multi-token chunk: prefill, the case the
//     paper compresses), and
//   - with every=N > 0, every N decode steps (re-selection during generation);
// otherwise eviction reuses the last votes, and slots newer than them vote 0 (they leave oldest first once
// outside the recent window: after prefill the cache is SnapKV's selection + a sliding window of
// generated tokens, as with every=0 in the paper).
//
// The window's rows are kept exactly: a ring of `window` attention rows per head, aligned with the live
// slots by position (realigned after every eviction, O(window · slots), one row at a time). Every row
// holds zeros past the live slots, so a new slot's column needs no writes (window cache lines per step).
//
// Keys: budget (required), window (32), pool (7, odd), every (0 = after prefill only), sinks (0),
// recent (default = window: SnapKV keeps the observation window itself), chunk (0).
#include <algorithm>

#include "kvlab/kv/policies/policies.h"
#include "kvlab/kv/score_policy.h"
#include "kvlab/util/error.h"

namespace kvlab::policies {

namespace {

// The last `window` attention rows of one head plus the votes of the last selection, aligned with the
// cache's live slots by position (same scheme as attention_scores.h, for window + 1 arrays at once).
struct WindowHead {
  std::vector<int32_t> pos;  // [live slots]
  std::vector<float> rows;   // [window][stride] ring of attention rows; column i = live slot i, 0 past them
  std::vector<float> votes;  // [live slots] pooled votes of the last selection (0 for newer slots)
  size_t stride = 0;
  size_t cur = 0;     // ring index of the newest query's row
  size_t filled = 0;  // rows holding a query (<= window)
  int32_t last_query = -1;
  size_t since_evict = 0;   // queries since this head's last eviction
  size_t since_select = 0;  // queries since the last selection
  bool selected = false;
};

class SnapKvPolicy final : public ScorePolicy {
 public:
  SnapKvPolicy(const ScoreBudget& b, size_t window, size_t pool, size_t every)
      : ScorePolicy(b), window_(window), pool_(pool), every_(every) {}
  std::string Spec() const override {
    // recent is always written: its default depends on window, so omitting 0 would not round-trip.
    const ScoreBudget& b = budget();
    std::string s = "snapkv:" + BudgetKey();
    if (b.sinks) s += ",sinks=" + std::to_string(b.sinks);
    s += ",recent=" + std::to_string(b.recent);
    if (b.chunk != b.default_chunk) s += ",chunk=" + std::to_string(b.chunk);
    return s + ",window=" + std::to_string(window_) + ",pool=" + std::to_string(pool_) +
           ",every=" + std::to_string(every_) + OptionsSpec();
  }
  void OnBind(const KvCacheShape& shape) override {
    n_kv_heads_ = shape.n_kv_heads;
    heads_.assign(shape.n_layers * n_kv_heads_, WindowHead{});
  }
  bool ScoresNeedAttention() const override { return true; }
  void OnCacheChanged(size_t layer, const KvCache& cache) override {
    for (size_t h = 0; h < n_kv_heads_; ++h) Sync(heads_[layer * n_kv_heads_ + h], cache.Meta(layer, h));
  }
  void ObserveScores(const AttentionRow& row) override {
    WindowHead& h = heads_[row.layer * n_kv_heads_ + row.kv_head];
    Sync(h, row.slots);
    if (row.query_pos != h.last_query) {  // a new query: its row replaces the oldest in the ring
      h.last_query = row.query_pos;
      h.cur = (h.cur + 1) % window_;
      h.filled = std::min(h.filled + 1, window_);
      std::fill_n(h.rows.begin() + h.cur * h.stride, h.stride, 0.0f);
      ++h.since_evict;
      ++h.since_select;
    }
    float* r = h.rows.data() + h.cur * h.stride;
    for (size_t i = 0; i < row.probs.size(); ++i) r[i] += row.probs[i];
  }
  size_t ScoreMetadataBytes() const override {
    size_t b = 0;
    for (const WindowHead& h : heads_) b += (window_ + 1) * h.pos.size() * sizeof(float);
    return b;
  }
  std::unique_ptr<KvPolicy> Clone() const override { return std::make_unique<SnapKvPolicy>(*this); }

 protected:
  void Score(size_t layer, size_t head, const KvCache& cache, std::span<float> out) override {
    WindowHead& h = heads_[layer * n_kv_heads_ + head];
    Sync(h, cache.Meta(layer, head));
    if (!h.selected || h.since_evict > 1 || (every_ > 0 && h.since_select >= every_)) Select(h);
    std::copy(h.votes.begin(), h.votes.end(), out.begin());
    h.since_evict = 0;
  }
  void OnEvicted(size_t layer, size_t head, const KvCache& cache) override {
    Sync(heads_[layer * n_kv_heads_ + head], cache.Meta(layer, head));
  }

 private:
  // votes = max-pool(sum of the window's rows).
  void Select(WindowHead& h) {
    const size_t n = h.pos.size();
    sum_.assign(n, 0.0f);
    for (size_t r = 0; r < h.filled; ++r) {
      const float* row = h.rows.data() + r * h.stride;
      for (size_t i = 0; i < n; ++i) sum_[i] += row[i];
    }
    const size_t half = pool_ / 2;
    for (size_t i = 0; i < n; ++i) {
      float m = sum_[i];
      for (size_t j = i > half ? i - half : 0; j < std::min(n, i + half + 1); ++j) m = std::max(m, sum_[j]);
      h.votes[i] = m;
    }
    h.selected = true;
    h.since_select = 0;
  }

  // Lines the head's arrays up with the cache's live slots: drops evicted positions, zero-extends new ones.
  void Sync(WindowHead& h, std::span<const SlotMeta> slots) {
    const size_t k = h.pos.size();
    const bool unchanged_prefix =
        k <= slots.size() && (k == 0 || (h.pos[0] == slots[0].pos && h.pos[k - 1] == slots[k - 1].pos));
    if (!unchanged_prefix) Remap(h, slots, window_);
    const size_t n = slots.size();
    if (n > h.stride) Grow(h, std::max(n, 2 * h.stride));
    for (size_t i = h.pos.size(); i < n; ++i) {  // their columns are 0 in every row already
      h.pos.push_back(slots[i].pos);
      h.votes.push_back(0.0f);
    }
  }
  void Grow(WindowHead& h, size_t stride) {
    std::vector<float> rows(window_ * stride, 0.0f);
    for (size_t r = 0; r < window_; ++r) {
      std::copy_n(h.rows.begin() + r * h.stride, h.pos.size(), rows.begin() + r * stride);
    }
    h.rows.swap(rows);
    h.stride = stride;
  }
  // Keeps the columns of the slots still live, in order, and zeroes the rest of every row. Runs once per
  // eviction of the head; may run inside Observe, on several threads at once for different heads, so its
  // scratch is its own.
  static void Remap(WindowHead& h, std::span<const SlotMeta> slots, size_t window) {
    std::vector<size_t> kept;  // [kept slots] the old column of each, increasing
    kept.reserve(h.pos.size());
    size_t src = 0;
    for (size_t i = 0; i < slots.size(); ++i) {
      while (src < h.pos.size() && h.pos[src] < slots[i].pos) ++src;
      if (src >= h.pos.size() || h.pos[src] != slots[i].pos) break;  // the rest are new slots
      kept.push_back(src);
    }
    const size_t old_size = h.pos.size(), out = kept.size();
    for (size_t j = 0; j < out; ++j) {
      h.pos[j] = h.pos[kept[j]];
      h.votes[j] = h.votes[kept[j]];
    }
    // Row by row: each pass reads and writes one row in order (kept[j] >= j, so nothing is overwritten
    // before it is read).
    for (size_t r = 0; r < window; ++r) {
      float* row = h.rows.data() + r * h.stride;
      for (size_t j = 0; j < out; ++j) row[j] = row[kept[j]];
      std::fill(row + out, row + old_size, 0.0f);
    }
    h.pos.resize(out);
    h.votes.resize(out);
  }

  size_t window_, pool_, every_;
  size_t n_kv_heads_ = 0;
  std::vector<WindowHead> heads_;  // [layers * kv_heads]
  std::vector<float> sum_;         // scratch for Select
};

}  // namespace

std::unique_ptr<KvPolicy> MakeSnapKv(PolicyParams& p) {
  const auto window = static_cast<size_t>(p.Int("window", 32, 1, 1 << 16));
  const auto pool = static_cast<size_t>(p.Int("pool", 7, 1, 1 << 10));
  if (pool % 2 == 0)
    throw Error("--kv", "snapkv: pool=" + std::to_string(pool) + " must be odd (centred kernel)");
  const auto every = static_cast<size_t>(p.Int("every", 0, 0, 1 << 30));
  const ScoreBudget b = ReadScoreBudget(p, 0, window);
  return std::make_unique<SnapKvPolicy>(b, window, pool, every);
}

}  // namespace kvlab::policies
