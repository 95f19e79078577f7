#include "kvlab/kv/score_policy.h"

#include <algorithm>

#include "kvlab/util/error.h"

namespace kvlab {

size_t DefaultChunk(size_t budget, size_t sinks, size_t recent) {
  if (budget <= sinks + recent) return 0;
  return std::min(budget / 8, (budget - sinks - recent) / 2);
}

ScoreBudget ReadScoreBudget(PolicyParams& p, size_t default_sinks, size_t default_recent) {
  constexpr int64_t kMax = int64_t{1} << 30;
  // A layer list names every layer's budget, so `budget` would be a second, conflicting answer.
  const bool layer_list = p.Has("layers") && p.Text("layers", "") != "uniform" && p.Text("layers", "") != "pyramid";
  if (layer_list && p.Has("budget")) {
    throw Error("--kv", p.policy() + ": give budget=N or a per-layer list layers=B0:B1:..., not both");
  }
  if (!layer_list && !p.Has("budget")) throw Error("--kv", p.policy() + ": needs budget=N (slots kept per head)");
  ScoreBudget b;
  b.budget = layer_list ? 0 : static_cast<size_t>(p.Int("budget", 0, 1, kMax));
  b.sinks = static_cast<size_t>(p.Int("sinks", static_cast<int64_t>(default_sinks), 0, kMax));
  b.recent = static_cast<size_t>(p.Int("recent", static_cast<int64_t>(default_recent), 0, kMax));
  // Per-layer lists name exact budgets, so they get no implicit chunk.
  b.default_chunk = layer_list ? 0 : DefaultChunk(b.budget, b.sinks, b.recent);
  b.chunk = static_cast<size_t>(p.Int("chunk", static_cast<int64_t>(b.default_chunk), 0, kMax));
  if (!layer_list && b.sinks + b.recent + b.chunk > b.budget) {
    throw Error("--kv", p.policy() + ": impossible budget: budget=" + std::to_string(b.budget) + " < sinks (" +
                            std::to_string(b.sinks) + ") + recent (" + std::to_string(b.recent) + ") + chunk (" +
                            std::to_string(b.chunk) + ")");
  }
  b.options = ReadScoreOptions(p, b.budget, b.sinks, b.recent, b.chunk);
  if (layer_list) b.budget = LargestLayerBudget(b.options, 0, b.recent, b.chunk);
  return b;
}

std::string ScorePolicy::BudgetKey() const {
  if (budget_.options.layers != ScoreOptions::Layers::kList) return "budget=" + std::to_string(budget_.budget);
  std::string s = "layers=";
  for (size_t i = 0; i < budget_.options.layer_budgets.size(); ++i) {
    s += (i ? ":" : "") + std::to_string(budget_.options.layer_budgets[i]);
  }
  return s;
}

std::string ScorePolicy::BudgetSpec() const {
  std::string s = BudgetKey();
  if (budget_.sinks) s += ",sinks=" + std::to_string(budget_.sinks);
  if (budget_.recent) s += ",recent=" + std::to_string(budget_.recent);
  if (budget_.chunk != budget_.default_chunk) s += ",chunk=" + std::to_string(budget_.chunk);
  return s + OptionsSpec();
}

std::string ScorePolicy::OptionsSpec() const { return ScoreOptionsSpec(budget_.options); }

void ScorePolicy::Bind(const KvCacheShape& shape) {
  const std::string spec = Spec();
  const std::string name = spec.substr(0, spec.find(':'));
  const ScoreOptions& o = budget_.options;
  const size_t n_layers = shape.n_layers;
  layer_budget_ = LayerBudgets(name, o, budget_.budget, budget_.sinks, budget_.recent, budget_.chunk, n_layers);
  n_kv_heads_ = shape.n_kv_heads;
  last_newest_.assign(n_layers, -1);
  last_run_.assign(n_layers, -1);
  if (o.rerotate) rerotator_.Bind(name, shape);
  OnBind(shape);
}

size_t ScorePolicy::HeadBound(size_t layer) const {
  const ScoreOptions& o = budget_.options;
  if (o.schedule == ScoreOptions::Schedule::kPrefill) return kUnbounded;
  const size_t b = layer < layer_budget_.size() ? layer_budget_[layer] : budget_.budget;
  const size_t grow = o.schedule == ScoreOptions::Schedule::kEvery ? o.every - 1 : 0;
  if (!o.adaptive_heads || n_kv_heads_ <= 1) return b + grow;
  // One head may take what the others of its layer do not need beyond their protected slots (every head
  // keeps its sinks and recent window; a head never holds more than the stream's tokens).
  return n_kv_heads_ * b - (n_kv_heads_ - 1) * (budget_.sinks + budget_.recent) + grow;
}

size_t ScorePolicy::LayerBound(size_t layer) const {
  const ScoreOptions& o = budget_.options;
  if (o.schedule == ScoreOptions::Schedule::kPrefill) return kUnbounded;
  const size_t b = layer < layer_budget_.size() ? layer_budget_[layer] : budget_.budget;
  const size_t grow = o.schedule == ScoreOptions::Schedule::kEvery ? o.every - 1 : 0;
  return std::max<size_t>(n_kv_heads_, 1) * (b + grow);
}

size_t ScorePolicy::MaxSlots() const {
  if (budget_.options.schedule == ScoreOptions::Schedule::kPrefill) return kUnbounded;
  if (layer_budget_.empty()) {  // before Bind: what is known without the model
    const size_t grow = budget_.options.schedule == ScoreOptions::Schedule::kEvery ? budget_.options.every - 1 : 0;
    return LargestLayerBudget(budget_.options, budget_.budget, budget_.recent, budget_.chunk) + grow;
  }
  size_t m = 0;
  for (size_t l = 0; l < layer_budget_.size(); ++l) m = std::max(m, HeadBound(l));
  return m;
}

bool ScorePolicy::Due(size_t layer, const KvCache& cache) {
  const ScoreOptions& o = budget_.options;
  if (o.schedule == ScoreOptions::Schedule::kStep || layer >= last_newest_.size() || cache.Size(layer, 0) == 0) {
    return true;
  }
  // The chunk's tokens were just appended to every head, so head 0's last slot is the newest position.
  const int32_t newest = cache.Meta(layer, 0).back().pos;
  const int32_t arrived = newest - last_newest_[layer];
  last_newest_[layer] = newest;
  const bool due = o.schedule == ScoreOptions::Schedule::kPrefill
                       ? arrived > 1
                       : newest - last_run_[layer] >= static_cast<int32_t>(o.every);
  if (due) last_run_[layer] = newest;
  return due;
}

void ScorePolicy::Compress(size_t layer, KvCache& cache) {
  BeforeCompress(layer, cache);
  if (!Due(layer, cache)) return;
  if (budget_.options.adaptive_heads && cache.n_kv_heads() > 1) {
    CompressAdaptive(layer, cache);
  } else {
    CompressHeads(layer, cache);
  }
}

size_t ScorePolicy::Candidates(size_t layer, size_t head, const KvCache& cache) {
  const size_t n = cache.Size(layer, head);
  std::span<const SlotMeta> meta = cache.Meta(layer, head);
  scores_.resize(n);
  Score(layer, head, cache, scores_);
  // Protected: sinks (the first positions of the stream) and the `recent` newest slots.
  const size_t recent_from = n - std::min(n, budget_.recent);
  candidates_.clear();
  kept_.clear();
  for (size_t i = 0; i < n; ++i) {
    if (static_cast<size_t>(meta[i].pos) < budget_.sinks || i >= recent_from) {
      kept_.push_back(static_cast<uint32_t>(i));
    } else {
      candidates_.emplace_back(scores_[i], static_cast<uint32_t>(i));
    }
  }
  return kept_.size();
}

// kept_ holds the protected slots in slot order, then the chosen ones: one slot-ordered list, sorting only
// the chosen part and merging, since with position-only scores (window, sinks) nearly every kept slot is
// protected and a sort of the whole list was most of their eviction's cost.
void ScorePolicy::OrderKept(size_t n_protected) {
  const auto chosen = kept_.begin() + static_cast<std::ptrdiff_t>(n_protected);
  if (chosen == kept_.end()) return;
  std::sort(chosen, kept_.end());
  merged_.resize(kept_.size());
  std::merge(kept_.begin(), chosen, chosen, kept_.end(), merged_.begin());
  kept_.swap(merged_);
}

void ScorePolicy::KeepAndFollow(size_t layer, size_t head, KvCache& cache) {
  const size_t n_old = cache.Size(layer, head);
  cache.Keep(layer, head, kept_);
  if (budget_.options.rerotate) rerotator_.AfterKeep(cache, layer, head, kept_, n_old);
  OnEvicted(layer, head, cache);
}

void ScorePolicy::CompressHeads(size_t layer, KvCache& cache) {
  const size_t b = layer < layer_budget_.size() ? layer_budget_[layer] : budget_.budget;
  for (size_t head = 0; head < cache.n_kv_heads(); ++head) {
    const size_t n = cache.Size(layer, head);
    if (n <= b) continue;
    const size_t target = b - budget_.chunk;
    const size_t n_protected = Candidates(layer, head, cache);
    // Highest scores first; among equal scores the newer slot wins (deterministic).
    const size_t take = std::min(candidates_.size(), target > n_protected ? target - n_protected : 0);
    auto better = [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second > b.second); };
    std::nth_element(candidates_.begin(), candidates_.begin() + take, candidates_.end(), better);
    for (size_t c = 0; c < take; ++c) kept_.push_back(candidates_[c].second);
    OrderKept(n_protected);
    KeepAndFollow(layer, head, cache);
  }
}

// Ada-KV: the layer keeps n_kv_heads × (budget − chunk) slots in total; every head keeps its sinks and
// recent window, and the rest go to the highest scores over all heads of the layer, so heads whose
// attention is concentrated give slots to heads whose attention is spread. Scores must be comparable
// across heads, which attention mass (h2o, tova, snapkv, sketches) is: each head's rows sum to 1.
void ScorePolicy::CompressAdaptive(size_t layer, KvCache& cache) {
  const size_t heads = cache.n_kv_heads();
  const size_t b = layer < layer_budget_.size() ? layer_budget_[layer] : budget_.budget;
  size_t total = 0;
  for (size_t h = 0; h < heads; ++h) total += cache.Size(layer, h);
  if (total <= heads * b) return;
  const size_t target = heads * (b - budget_.chunk);
  joint_.clear();
  size_t n_protected = 0;
  for (size_t h = 0; h < heads; ++h) {
    n_protected += Candidates(layer, h, cache);
    for (const auto& [score, slot] : candidates_) joint_.push_back({score, slot, static_cast<uint32_t>(h)});
  }
  const size_t take = std::min(joint_.size(), target > n_protected ? target - n_protected : 0);
  auto better = [](const Candidate& a, const Candidate& b) {
    if (a.score != b.score) return a.score > b.score;
    return a.slot != b.slot ? a.slot > b.slot : a.head < b.head;
  };
  std::nth_element(joint_.begin(), joint_.begin() + take, joint_.end(), better);
  // The chosen, grouped by head in slot order.
  std::sort(joint_.begin(), joint_.begin() + take,
            [](const Candidate& a, const Candidate& b) { return a.head != b.head ? a.head < b.head : a.slot < b.slot; });
  size_t c = 0;
  for (size_t h = 0; h < heads; ++h) {
    const size_t n = cache.Size(layer, h);
    std::span<const SlotMeta> meta = cache.Meta(layer, h);
    const size_t recent_from = n - std::min(n, budget_.recent);
    kept_.clear();
    for (size_t i = 0; i < n; ++i) {
      if (static_cast<size_t>(meta[i].pos) < budget_.sinks || i >= recent_from) kept_.push_back(static_cast<uint32_t>(i));
    }
    const size_t n_protected_here = kept_.size();
    for (; c < take && joint_[c].head == h; ++c) kept_.push_back(joint_[c].slot);
    if (kept_.size() == n) continue;
    OrderKept(n_protected_here);
    KeepAndFollow(layer, h, cache);
  }
}

}  // namespace kvlab
