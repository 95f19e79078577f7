#include "kvlab/kv/score_policy.h"

#include <algorithm>
#include <cmath>

#include "kvlab/ops/threads.h"
#include "kvlab/util/error.h"

namespace kvlab {

size_t DefaultChunk(size_t budget, size_t sinks, size_t recent) {
  if (budget <= sinks + recent) return 0;
  return std::min(budget / 8, (budget - sinks - recent) / 2);
}

namespace {

// The state of `b` when ceil(ratio × tokens) asks for `want` slots per head.
ScoreBudget BudgetFor(const ScoreBudget& b, size_t want) {
  ScoreBudget at = b;
  const size_t fixed_recent = b.recent_follows ? 0 : b.recent;
  const size_t floor = b.sinks + fixed_recent + b.reserved + 1;
  at.budget = std::max(want, floor);
  if (b.budget) at.budget = std::min(at.budget, b.budget);  // the cap holds the floor (CheckRatioCap)
  const size_t room = at.budget - floor;
  at.chunk = b.chunk_follows ? DefaultChunk(at.budget, b.sinks, fixed_recent + b.reserved) : std::min(b.chunk, room);
  if (b.recent_follows) at.recent = at.budget - b.sinks - b.reserved - at.chunk;
  return at;
}

}  // namespace

ScoreBudget BudgetAt(const ScoreBudget& b, size_t tokens_seen) {
  if (b.ratio <= 0.0) return b;
  // A hair below the exact product, so that e.g. 0.1 × 30 (3.0000000000000004 in floating point) asks for 3.
  const double want = std::ceil(b.ratio * static_cast<double>(tokens_seen) * (1.0 - 1e-12));
  return BudgetFor(b, static_cast<size_t>(want));
}

size_t TokensSeen(const KvCache& cache, size_t layer) {
  if (cache.Size(layer, 0) == 0) return 0;
  return static_cast<size_t>(cache.Meta(layer, 0).back().pos) + 1;
}

void ReadBudgetOrRatio(PolicyParams& p, ScoreBudget& b, const std::string& what) {
  constexpr int64_t kMax = int64_t{1} << 30;
  if (!p.Has("budget") && !p.Has("ratio")) {
    throw Error("--kv", p.policy() + ": needs budget=N (" + what + ") or ratio=R (the fraction of the tokens seen "
                "to keep, 0 < R <= 1)");
  }
  b.budget = p.Has("budget") ? static_cast<size_t>(p.Int("budget", 0, 1, kMax)) : 0;
  if (p.Has("ratio")) {
    b.ratio = p.Float("ratio", 0.0, 0.0, 1.0);
    if (!(b.ratio > 0.0)) throw Error("--kv", p.policy() + ": ratio=" + p.Text("ratio", "") + " must be > 0");
  }
}

std::string BudgetKeys(const ScoreBudget& b) {
  if (b.ratio <= 0.0) return "budget=" + std::to_string(b.budget);
  return "ratio=" + FormatSpecNumber(b.ratio) + (b.budget ? ",budget=" + std::to_string(b.budget) : "");
}

void CheckRatioCap(const std::string& policy, const ScoreBudget& b) {
  if (b.ratio <= 0.0 || b.budget == 0) return;
  const size_t floor = b.sinks + (b.recent_follows ? 0 : b.recent) + b.reserved + 1;
  if (b.budget < floor + (b.chunk_follows ? 0 : b.chunk)) {
    throw Error("--kv", policy + ": budget=" + std::to_string(b.budget) + " caps ratio=" + FormatSpecNumber(b.ratio) +
                            " below the slots always kept (" + std::to_string(floor) + ", plus chunk " +
                            std::to_string(b.chunk_follows ? 0 : b.chunk) + ")");
  }
}

ScoreBudget ReadScoreBudget(PolicyParams& p, size_t default_sinks, size_t default_recent) {
  constexpr int64_t kMax = int64_t{1} << 30;
  // A layer list names every layer's budget, so `budget` would be a second, conflicting answer.
  const std::string layers = p.Has("layers") ? p.Text("layers", "") : "uniform";
  const bool layer_list = layers != "uniform" && layers != "pyramid" && layers != "entropy";
  if (layer_list && p.Has("budget")) {
    throw Error("--kv", p.policy() + ": give budget=N or a per-layer list layers=B0:B1:..., not both");
  }
  if (layer_list && p.Has("ratio")) {
    throw Error("--kv", p.policy() + ": ratio=R does not combine with a per-layer list layers=B0:B1:... (slot counts); "
                "use layers=pyramid, entropy or uniform");
  }
  ScoreBudget b;
  if (!layer_list) ReadBudgetOrRatio(p, b, "slots kept per head");
  b.sinks = static_cast<size_t>(p.Int("sinks", static_cast<int64_t>(default_sinks), 0, kMax));
  b.recent = static_cast<size_t>(p.Int("recent", static_cast<int64_t>(default_recent), 0, kMax));
  if (b.ratio > 0.0) {
    // The budget moves, so by default the chunk moves with it (DefaultChunk of the budget in force).
    b.chunk_follows = !p.Has("chunk");
    b.chunk = static_cast<size_t>(p.Int("chunk", 0, 0, kMax));
    CheckRatioCap(p.policy(), b);
    b.options = ReadScoreOptions(p, 0, b.sinks, b.recent, b.chunk);
    return b;
  }
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
  if (budget_.options.layers != ScoreOptions::Layers::kList) return BudgetKeys(budget_);
  std::string s = "layers=";
  for (size_t i = 0; i < budget_.options.layer_budgets.size(); ++i) {
    if (i) s += ':';
    s += std::to_string(budget_.options.layer_budgets[i]);
  }
  return s;
}

std::string ScorePolicy::BudgetSpec() const {
  std::string s = BudgetKey();
  if (budget_.sinks) s += ",sinks=" + std::to_string(budget_.sinks);
  if (budget_.recent) s += ",recent=" + std::to_string(budget_.recent);
  const bool chunk_given = budget_.ratio > 0.0 ? !budget_.chunk_follows : budget_.chunk != budget_.default_chunk;
  if (chunk_given) s += ",chunk=" + std::to_string(budget_.chunk);
  return s + OptionsSpec();
}

std::string ScorePolicy::OptionsSpec() const { return ScoreOptionsSpec(budget_.options); }

void ScorePolicy::Bind(const KvCacheShape& shape) {
  const std::string spec = Spec();
  name_ = spec.substr(0, spec.find(':'));
  const ScoreOptions& o = budget_.options;
  n_layers_ = shape.n_layers;
  n_kv_heads_ = shape.n_kv_heads;
  now_ = budget_;
  layer_budget_.clear();
  bound_budget_.clear();
  if (budget_.ratio <= 0.0) {
    layer_budget_ = LayerBudgets(name_, o, budget_.budget, budget_.sinks, budget_.recent, budget_.chunk, n_layers_);
    bound_budget_ = layer_budget_;
    bound_ = budget_;
  } else if (budget_.budget > 0) {  // a capped ratio: bounded by the cap's layer budgets
    bound_ = BudgetFor(budget_, budget_.budget);
    bound_budget_ = LayerBudgets(name_, o, bound_.budget, bound_.sinks, bound_.recent, bound_.chunk, n_layers_);
  }
  last_newest_.assign(n_layers_, -1);
  last_run_.assign(n_layers_, -1);
  if (o.entropy()) {
    entropy_.Bind(n_layers_, n_kv_heads_, {o.entropy_heads, o.layers == ScoreOptions::Layers::kEntropy},
                  o.entropy_every, o.entropy_cap);
  }
  if (o.rerotate) rerotator_.Bind(name_, shape);
  OnBind(shape);
}

size_t ScorePolicy::HeadBound(size_t layer) const {
  const ScoreOptions& o = budget_.options;
  if (o.schedule == ScoreOptions::Schedule::kPrefill || !Bounded()) return kUnbounded;
  const size_t b = o.entropy() && entropy_.enabled() ? entropy_.HeadBound(bound_.budget, Floor(bound_))
                   : layer < bound_budget_.size()    ? bound_budget_[layer]
                                                     : bound_.budget;
  const size_t grow = o.schedule == ScoreOptions::Schedule::kEvery ? o.every - 1 : 0;
  if (!o.adaptive_heads || n_kv_heads_ <= 1) return b + grow;
  // One head may take what the others of its layer do not need beyond their protected slots (every head
  // keeps its sinks and recent window; a head never holds more than the stream's tokens).
  return n_kv_heads_ * b - (n_kv_heads_ - 1) * (bound_.sinks + bound_.recent) + grow;
}

size_t ScorePolicy::LayerBound(size_t layer) const {
  const ScoreOptions& o = budget_.options;
  if (o.schedule == ScoreOptions::Schedule::kPrefill || !Bounded()) return kUnbounded;
  if (o.entropy() && entropy_.enabled()) {
    const size_t grow = o.schedule == ScoreOptions::Schedule::kEvery ? o.every - 1 : 0;
    return entropy_.LayerBound(bound_.budget, Floor(bound_)) + std::max<size_t>(n_kv_heads_, 1) * grow;
  }
  const size_t b = layer < bound_budget_.size() ? bound_budget_[layer] : bound_.budget;
  const size_t grow = o.schedule == ScoreOptions::Schedule::kEvery ? o.every - 1 : 0;
  return std::max<size_t>(n_kv_heads_, 1) * (b + grow);
}

size_t ScorePolicy::MaxSlots() const {
  if (budget_.options.schedule == ScoreOptions::Schedule::kPrefill || !Bounded()) return kUnbounded;
  if (n_layers_ == 0) {  // before Bind: what is known without the model
    const ScoreBudget c = budget_.ratio > 0.0 ? BudgetFor(budget_, budget_.budget) : budget_;
    const size_t grow = budget_.options.schedule == ScoreOptions::Schedule::kEvery ? budget_.options.every - 1 : 0;
    return LargestLayerBudget(budget_.options, c.budget, c.recent, c.chunk) + grow;
  }
  size_t m = 0;
  for (size_t l = 0; l < n_layers_; ++l) m = std::max(m, HeadBound(l));
  return m;
}

void ScorePolicy::Observe(const AttentionRow& row) {
  if (entropy_.enabled()) entropy_.Observe(row);
  if (ScoresNeedAttention()) ObserveScores(row);
}

void ScorePolicy::SplitByEntropy(size_t tokens_seen) {
  entropy_.Update(tokens_seen, now_.budget, Floor(now_));
  if (budget_.options.layers == ScoreOptions::Layers::kEntropy && !budget_.options.entropy_heads) {
    for (size_t l = 0; l < n_layers_; ++l) layer_budget_[l] = entropy_.Budget(l, 0);
  }
}

void ScorePolicy::Follow(size_t tokens_seen) {
  const ScoreBudget at = BudgetAt(budget_, tokens_seen);
  const bool changed = at.budget != now_.budget || layer_budget_.empty();
  now_ = at;
  if (changed) {
    layer_budget_ = LayerBudgets(name_, budget_.options, at.budget, at.sinks, at.recent, at.chunk, n_layers_);
  }
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
  if (budget_.ratio > 0.0) Follow(TokensSeen(cache, layer));
  if (entropy_.enabled()) SplitByEntropy(TokensSeen(cache, layer));
  if (budget_.options.adaptive_heads && cache.n_kv_heads() > 1) {
    CompressAdaptive(layer, cache);
  } else {
    CompressHeads(layer, cache);
  }
}

size_t ScorePolicy::Candidates(size_t layer, size_t head, const KvCache& cache, HeadScratch& s) {
  const size_t n = cache.Size(layer, head);
  std::span<const SlotMeta> meta = cache.Meta(layer, head);
  s.scores.resize(n);
  Score(layer, head, cache, s.scores);
  // Protected: sinks (the first positions of the stream) and the `recent` newest slots.
  const size_t recent_from = n - std::min(n, now_.recent);
  s.candidates.clear();
  s.kept.clear();
  for (size_t i = 0; i < n; ++i) {
    if (static_cast<size_t>(meta[i].pos) < now_.sinks || i >= recent_from) {
      s.kept.push_back(static_cast<uint32_t>(i));
    } else {
      s.candidates.emplace_back(s.scores[i], static_cast<uint32_t>(i));
    }
  }
  return s.kept.size();
}

// s.kept holds the protected slots in slot order, then the chosen ones: one slot-ordered list, sorting only
// the chosen part and merging, since with position-only scores (window, sinks) nearly every kept slot is
// protected and a sort of the whole list was most of their eviction's cost.
void ScorePolicy::OrderKept(size_t n_protected, HeadScratch& s) {
  const auto chosen = s.kept.begin() + static_cast<std::ptrdiff_t>(n_protected);
  if (chosen == s.kept.end()) return;
  std::sort(chosen, s.kept.end());
  s.merged.resize(s.kept.size());
  std::merge(s.kept.begin(), chosen, chosen, s.kept.end(), s.merged.begin());
  s.kept.swap(s.merged);
}

void ScorePolicy::KeepAndFollow(size_t layer, size_t head, KvCache& cache, HeadScratch& s) {
  const size_t n_old = cache.Size(layer, head);
  cache.Keep(layer, head, s.kept, s.dropped);  // this thread's scratch: heads may be kept concurrently
  if (budget_.options.rerotate) rerotator_.AfterKeep(cache, layer, head, s.kept, n_old);
  OnEvicted(layer, head, cache);
}

void ScorePolicy::CompressHead(size_t layer, size_t head, size_t b, KvCache& cache, HeadScratch& s) {
  const size_t target = b - now_.chunk;
  const size_t n_protected = Candidates(layer, head, cache, s);
  const size_t take = std::min(s.candidates.size(), target > n_protected ? target - n_protected : 0);
  PartitionBest(s.candidates, take);
  for (size_t c = 0; c < take; ++c) s.kept.push_back(s.candidates[c].second);
  OrderKept(n_protected, s);
  KeepAndFollow(layer, head, cache, s);
}

void ScorePolicy::CompressHeads(size_t layer, KvCache& cache) {
  const size_t layer_b = layer < layer_budget_.size() ? layer_budget_[layer] : now_.budget;
  const bool per_head = budget_.options.entropy_heads;
  due_.clear();
  for (size_t head = 0; head < cache.n_kv_heads(); ++head) {
    const size_t b = per_head ? entropy_.Budget(layer, head) : layer_b;
    if (cache.Size(layer, head) > b) due_.emplace_back(static_cast<uint32_t>(head), static_cast<uint32_t>(b));
  }
  // Heads share only read-only state when the score says so. Not for quantized caches, whose compaction
  // uses the cache's own scratch, nor with re-rotation, which has one scratch for all heads.
  const size_t threads = EvictionThreads(
      due_.size(), ScoresHeadsConcurrently() && !cache.quantized() && !budget_.options.rerotate);
  if (scratch_.size() < threads) scratch_.resize(threads);
  EvictInRuns(due_.size(), threads, [&](size_t begin, size_t end, size_t t) {
    for (size_t i = begin; i < end; ++i) CompressHead(layer, due_[i].first, due_[i].second, cache, scratch_[t]);
  });
}

void PartitionBest(ScoredSlots& candidates, size_t take) {
  auto better = [](const auto& x, const auto& y) {
    return x.first > y.first || (x.first == y.first && x.second > y.second);
  };
  std::nth_element(candidates.begin(), candidates.begin() + static_cast<std::ptrdiff_t>(take),
                   candidates.end(), better);
}

size_t EvictionThreads(size_t due, bool heads_apart) {
  return heads_apart ? std::clamp<size_t>(due, 1, static_cast<size_t>(NumThreads())) : 1;
}

// Ada-KV: the layer keeps n_kv_heads × (budget − chunk) slots in total; every head keeps its sinks and
// recent window, and the rest go to the highest scores over all heads of the layer, so heads whose
// attention is concentrated give slots to heads whose attention is spread. Scores must be comparable
// across heads, which attention mass (h2o, tova, snapkv, sketches) is: each head's rows sum to 1.
void ScorePolicy::CompressAdaptive(size_t layer, KvCache& cache) {
  const size_t heads = cache.n_kv_heads();
  const size_t b = layer < layer_budget_.size() ? layer_budget_[layer] : now_.budget;
  size_t total = 0;
  for (size_t h = 0; h < heads; ++h) total += cache.Size(layer, h);
  if (total <= heads * b) return;
  const size_t target = heads * (b - now_.chunk);
  if (scratch_.empty()) scratch_.resize(1);
  HeadScratch& s = scratch_[0];
  joint_.clear();
  size_t n_protected = 0;
  for (size_t h = 0; h < heads; ++h) {
    n_protected += Candidates(layer, h, cache, s);
    for (const auto& [score, slot] : s.candidates) joint_.push_back({score, slot, static_cast<uint32_t>(h)});
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
    const size_t recent_from = n - std::min(n, now_.recent);
    std::vector<uint32_t>& kept = s.kept;
    kept.clear();
    for (size_t i = 0; i < n; ++i) {
      if (static_cast<size_t>(meta[i].pos) < now_.sinks || i >= recent_from) kept.push_back(static_cast<uint32_t>(i));
    }
    const size_t n_protected_here = kept.size();
    for (; c < take && joint_[c].head == h; ++c) kept.push_back(joint_[c].slot);
    if (kept.size() == n) continue;
    OrderKept(n_protected_here, s);
    KeepAndFollow(layer, h, cache, s);
  }
}

}  // namespace kvlab
