// sketch: sketch-based importance — H2O's heavy-hitter score (Zhang et al., "H2O: Heavy-Hitter Oracle for
// Efficient Generative Inference of Large Language Models", NeurIPS 2023) kept per (layer, kv head) in a
// fixed width × depth sketch (Count-Min, Count Sketch or RACE; see sketch_scores.h for the papers) instead
// of one float per slot. Sinks and the recent window are always kept exact.
//
// strategy=topk: after every eviction each head holds sinks + recent + the `topk` slots of highest
//   estimate, so the next attention steps attend to exactly those (plus tokens appended since). The cache
//   may hold up to `budget` slots: eviction runs when a head exceeds `budget` and goes down to
//   sinks + recent + topk, so topk < budget also amortizes eviction (chunk = budget - sinks - recent - topk).
//   Why not keep `budget` slots resident and mask all but the top-k per step: ops see raw slot spans, not
//   policies, and the only per-step hook (Compress) runs after attention; a mask would need a per-slot
//   flag in the attention kernel for no memory saving (a masked slot still occupies the cache). Evicting
//   is the honest version: what is attended is exactly what is held.
// strategy=aggregate: sinks + recent window exact, heavy hitters by estimate exact, every other token
//   merged into one of `summaries` summary slots (mean key/value + count, logit q·k̄ + log(count); see
//   summary_policy.h) instead of dropped.
//
// Keys: type=cms|cs|race (cms), width (512), depth (4), bits (race; ceil(log2 width) ≤ 16),
// conservative (cms; false), decay (1), seed (0), budget (required), sinks (0), recent (0),
// strategy=topk|aggregate (topk); topk: topk (budget - sinks - recent - DefaultChunk); aggregate: chunk (0),
// summaries (16), assign=kmeans|lsh, metric=cosine|l2.
#include <cmath>

#include "kvlab/kv/policies/policies.h"
#include "kvlab/kv/policies/sketch_scores.h"
#include "kvlab/kv/policies/summary_policy.h"
#include "kvlab/kv/score_policy.h"
#include "kvlab/util/error.h"

namespace kvlab::policies {

namespace {

// "type=..,width=..,depth=..[,bits=..][,conservative=true]" — the sketch part of Spec().
std::string SketchSpec(const SketchOptions& o) {
  static const char* kTypes[] = {"cms", "cs", "race"};
  std::string s = "type=" + std::string(kTypes[static_cast<int>(o.type)]) + ",width=" + std::to_string(o.width) +
                  ",depth=" + std::to_string(o.depth);
  if (o.type == SketchOptions::Type::kRace) s += ",bits=" + std::to_string(o.bits);
  if (o.conservative) s += ",conservative=true";
  return s;
}

std::string TailSpec(const SketchOptions& o) {
  std::string s;
  if (o.decay != 1.0) s += ",decay=" + FormatSpecNumber(o.decay);
  return s + ",seed=" + std::to_string(o.seed);
}

std::string ExactSpec(const ScoreBudget& b) {
  std::string s = ",";
  s += BudgetKeys(b);
  if (b.sinks) s += ",sinks=" + std::to_string(b.sinks);
  if (b.recent) s += ",recent=" + std::to_string(b.recent);
  return s;
}

class SketchTopkPolicy final : public ScorePolicy {
 public:
  SketchTopkPolicy(const ScoreBudget& b, const SketchOptions& o) : ScorePolicy(b), scores_(o) {}
  std::string Spec() const override {
    const ScoreBudget& b = budget();
    // With a ratio, topk follows the budget: the spec names the chunk when one was given instead.
    const std::string topk = b.ratio > 0.0 ? (b.chunk_follows ? "" : ",chunk=" + std::to_string(b.chunk))
                                           : ",topk=" + std::to_string(b.budget - b.chunk - b.sinks - b.recent);
    return "sketch:" + SketchSpec(scores_.options()) + ExactSpec(b) + ",strategy=topk" + topk +
           TailSpec(scores_.options()) + OptionsSpec();
  }
  void OnBind(const KvCacheShape& shape) override { scores_.Bind(shape); }
  bool ScoresNeedAttention() const override { return true; }
  void ObserveScores(const AttentionRow& row) override { scores_.Observe(row); }
  void WillObserveScores(size_t layer, size_t kv_head) override { scores_.Prefetch(layer, kv_head); }
  size_t ScoreMetadataBytes() const override { return scores_.Bytes(); }
  std::unique_ptr<KvPolicy> Clone() const override { return std::make_unique<SketchTopkPolicy>(*this); }

 protected:
  void Score(size_t layer, size_t head, const KvCache& cache, std::span<float> out) override {
    scores_.Estimate(layer, head, cache, out);
  }
  bool ScoresHeadsConcurrently() const override { return true; }  // Estimate is safe per head

 private:
  SketchScores scores_;
};

class SketchAggregatePolicy final : public SummaryPolicy {
 public:
  SketchAggregatePolicy(const ScoreBudget& b, const SummaryOptions& so, const SketchOptions& o)
      : SummaryPolicy(b, so), scores_(o) {}
  std::string Spec() const override {
    const ScoreBudget& b = budget();
    std::string s = "sketch:" + SketchSpec(scores_.options()) + ExactSpec(b) + ",strategy=aggregate";
    if (b.chunk) s += ",chunk=" + std::to_string(b.chunk);
    return s + SummarySpec(summary_options(), /*with_seed=*/false) + TailSpec(scores_.options());
  }
  void Bind(const KvCacheShape& shape) override {
    SummaryPolicy::Bind(shape);
    scores_.Bind(shape);
  }
  bool WantsAttention() const override { return true; }
  void Observe(const AttentionRow& row) override { scores_.Observe(row); }
  void WillObserve(size_t layer, size_t kv_head) override { scores_.Prefetch(layer, kv_head); }
  // The sketches plus the summary table (one founder position per summary slot, and the lsh hyperplanes
  // when assign=lsh).
  size_t MetadataBytes() const override { return scores_.Bytes() + SummaryPolicy::MetadataBytes(); }
  std::unique_ptr<KvPolicy> Clone() const override { return std::make_unique<SketchAggregatePolicy>(*this); }

 protected:
  void Score(size_t layer, size_t head, const KvCache& cache, std::span<float> out) override {
    scores_.Estimate(layer, head, cache, out);
  }
  bool ScoresHeadsConcurrently() const override { return true; }  // Estimate is safe per head

 private:
  SketchScores scores_;
};

SketchOptions ReadSketchOptions(PolicyParams& p) {
  SketchOptions o;
  // count_min / count_sketch: the original study's names for the same sketches (Spec() writes cms / cs).
  const std::string type = p.Choice("type", "cms", {"cms", "cs", "race", "count_min", "count_sketch"});
  o.type = type == "cs" || type == "count_sketch" ? SketchOptions::Type::kCountSketch
           : type == "race"                       ? SketchOptions::Type::kRace
                                                  : SketchOptions::Type::kCountMin;
  o.width = static_cast<size_t>(p.Int("width", 512, 1, int64_t{1} << 24));
  // Count Sketch takes medians, and Estimate a block's buckets, on the stack.
  o.depth = static_cast<size_t>(p.Int("depth", 4, 1, static_cast<int64_t>(SketchScores::kMaxDepth)));
  if (o.type == SketchOptions::Type::kRace) {
    int auto_bits = 1;
    while ((size_t{1} << auto_bits) < o.width && auto_bits < 16) ++auto_bits;
    o.bits = static_cast<int>(p.Int("bits", auto_bits, 1, RaceSketch::kMaxBits));
  }
  if (o.type == SketchOptions::Type::kCountMin) o.conservative = p.Bool("conservative", false);
  o.decay = p.Float("decay", 1.0, 0.0, 1.0);
  o.seed = static_cast<uint64_t>(p.Int("seed", 0, 0, INT64_MAX));
  return o;
}

// ratio=R: topk follows the budget in force (its chunk is DefaultChunk's, or chunk=N), so topk= itself,
// a slot count, is not taken; aggregate reserves its summaries.
std::unique_ptr<KvPolicy> MakeSketchWithRatio(PolicyParams& p, ScoreBudget& b, const SketchOptions& o) {
  constexpr int64_t kMax = int64_t{1} << 30;
  if (p.Choice("strategy", "topk", {"topk", "aggregate"}) == "topk") {
    if (p.Has("topk")) throw Error("--kv", "sketch: topk=N counts slots; with ratio=R give chunk=N (or nothing)");
    b.chunk_follows = !p.Has("chunk");
    b.chunk = static_cast<size_t>(p.Int("chunk", 0, 0, kMax));
    CheckRatioCap("sketch", b);
    b.options = ReadScoreOptions(p, 0, b.sinks, b.recent, b.chunk);
    if (b.options.layers == ScoreOptions::Layers::kList) {
      throw Error("--kv", "sketch: a per-layer list (layers=B0:B1:...) is not supported with strategy=topk",
                  "use ratio=R with layers=pyramid");
    }
    return std::make_unique<SketchTopkPolicy>(b, o);
  }
  b.chunk = static_cast<size_t>(p.Int("chunk", 0, 0, kMax));
  SummaryOptions so = ReadSummaryOptions(p, 0, 0);
  so.seed = o.seed;
  b.reserved = so.summaries;
  CheckRatioCap("sketch", b);
  return std::make_unique<SketchAggregatePolicy>(b, so, o);
}

}  // namespace

std::unique_ptr<KvPolicy> MakeSketch(PolicyParams& p) {
  constexpr int64_t kMax = int64_t{1} << 30;
  const SketchOptions o = ReadSketchOptions(p);
  ScoreBudget b;
  ReadBudgetOrRatio(p, b, "slots kept per head");
  b.sinks = static_cast<size_t>(p.Int("sinks", 0, 0, kMax));
  b.recent = static_cast<size_t>(p.Int("recent", 0, 0, kMax));
  if (b.ratio > 0.0) return MakeSketchWithRatio(p, b, o);
  if (b.sinks + b.recent > b.budget) {
    throw Error("--kv", "sketch: impossible budget: budget=" + std::to_string(b.budget) + " < sinks (" +
                            std::to_string(b.sinks) + ") + recent (" + std::to_string(b.recent) + ")");
  }
  const size_t room = b.budget - b.sinks - b.recent;
  if (p.Choice("strategy", "topk", {"topk", "aggregate"}) == "topk") {
    // Default: leave DefaultChunk slots free, so eviction (and its compaction) is amortized as in h2o.
    const size_t default_topk = room - DefaultChunk(b.budget, b.sinks, b.recent);
    const auto topk = static_cast<size_t>(p.Int("topk", static_cast<int64_t>(default_topk), 0, kMax));
    if (topk > room) {
      throw Error("--kv", "sketch: topk=" + std::to_string(topk) + " is more than budget - sinks - recent (" +
                              std::to_string(room) + ")");
    }
    b.chunk = room - topk;
    // Per-layer lists need their own topk per layer, so the topk strategy takes layers=pyramid at most.
    b.options = ReadScoreOptions(p, b.budget, b.sinks, b.recent, b.chunk);
    if (b.options.layers == ScoreOptions::Layers::kList) {
      throw Error("--kv", "sketch: a per-layer list (layers=B0:B1:...) is not supported with strategy=topk",
                  "use budget=N with layers=pyramid");
    }
    return std::make_unique<SketchTopkPolicy>(b, o);
  }
  b.chunk = static_cast<size_t>(p.Int("chunk", 0, 0, kMax));
  SummaryOptions so = ReadSummaryOptions(p, b.budget, b.sinks + b.recent + b.chunk);
  so.seed = o.seed;
  return std::make_unique<SketchAggregatePolicy>(b, so, o);
}

}  // namespace kvlab::policies
