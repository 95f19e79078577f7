// ScorePolicy: the shared shape of eviction policies — score every slot, always keep the attention sinks
// and the recent window, fill the rest of the budget with the highest scores. A policy is then a few lines
// (its Score), as kvpress's ScorerPress. Written once here: sink/recent protection, amortized eviction in
// chunks, and stable compaction of any per-slot state the policy keeps.
//
// Common spec keys: budget (slots per head; required unless ratio is given), ratio (keep a fraction of the
// tokens seen: ceil(ratio × tokens) slots per head, at least sinks + recent + 1, at most budget when one is
// given; see ScoreBudget), sinks (first positions always kept, default 0),
// recent (most recent slots always kept, default 0), chunk (evict down to budget - chunk when the budget
// is exceeded, so eviction runs once every chunk+1 tokens instead of every token; default DefaultChunk:
// an eighth of the budget, so a scattered eviction, which compacts the cache, is paid once per
// budget/8 tokens instead of on every token; chunk=0 is the papers' evict-one-per-token).
// Wrapper keys (kv/budgets.h, docs/POLICIES.md): layers (per-layer budgets: uniform, pyramid, a list),
// heads=adaptive (Ada-KV joint selection over the heads of a layer), schedule (when eviction runs) and
// rerotate (cache-relative RoPE positions after eviction, kv/rerotate.h).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "kvlab/kv/budgets.h"
#include "kvlab/kv/entropy_budgets.h"
#include "kvlab/kv/policy.h"
#include "kvlab/kv/rerotate.h"
#include "kvlab/kv/spec.h"
#include "kvlab/ops/thread_team.h"

namespace kvlab {

struct ScoreBudget {
  size_t budget = 0;  // slots per head; with a ratio, the cap (0 = none)
  size_t sinks = 0;
  size_t recent = 0;
  size_t chunk = 0;
  size_t default_chunk = 0;  // what `chunk` is when the spec does not say (Spec() omits it then)
  // ratio=R (kvpress's compression_ratio is 1 - R): the budget follows the stream, ceil(R × tokens seen)
  // slots per head, never fewer than sinks + recent + reserved + 1 nor more than `budget` when it is given.
  // Memory is then bounded only by the cap: without one the cache grows with the stream (R of it).
  // 0 = a fixed budget.
  double ratio = 0.0;
  size_t reserved = 0;        // slots a policy keeps besides sinks and recent (cluster's summaries)
  bool chunk_follows = false;   // ratio without chunk=: the chunk is DefaultChunk of the budget in force
  bool recent_follows = false;  // window, sinks, cluster: recent = budget - sinks - reserved - chunk
  ScoreOptions options;  // layers / heads / schedule / rerotate (ScorePolicy only; defaults elsewhere)
};

// The budget, recent window and chunk in force after `tokens_seen` tokens of the stream (`b` itself
// without a ratio).
ScoreBudget BudgetAt(const ScoreBudget& b, size_t tokens_seen);

// Tokens of the stream seen so far, from the newest position in `layer` (positions count from 0).
size_t TokensSeen(const KvCache& cache, size_t layer);

// Reads `budget` and `ratio` into b: budget=N (a fixed budget), ratio=R (0 < R <= 1), or both (the ratio
// capped at N). Throws kvlab::Error("--kv", ...) naming the policy when neither is given; `what` says
// what the budget counts ("slots kept per head").
void ReadBudgetOrRatio(PolicyParams& p, ScoreBudget& b, const std::string& what);

// "budget=N", "ratio=R" or "ratio=R,budget=N": the budget keys of a Spec().
std::string BudgetKeys(const ScoreBudget& b);

// Checks that a ratio's cap leaves room for the slots kept regardless (floor = sinks + fixed recent +
// reserved + 1 + chunk); throws kvlab::Error naming the policy otherwise.
void CheckRatioCap(const std::string& policy, const ScoreBudget& b);

// The chunk a scored policy uses when its spec gives none: budget/8, but at most half of the slots that
// are neither sinks nor recent, so that right after an eviction the scored part is never empty.
size_t DefaultChunk(size_t budget, size_t sinks, size_t recent);

// A head's unprotected slots as (score, slot index).
using ScoredSlots = std::vector<std::pair<float, uint32_t>>;
// Moves the `take` best of `candidates` to the front, in no particular order: highest scores first, and
// among equal scores the newer slot (deterministic).
void PartitionBest(ScoredSlots& candidates, size_t take);

// How many of the engine's threads evict the `due` heads of a layer: one per head up to NumThreads() when
// the heads share no state (`heads_apart`: the policy says so and the cache allows it), else 1.
size_t EvictionThreads(size_t due, bool heads_apart);

// Calls evict(begin, end, t) once for each of `threads` threads t, each with one contiguous run
// [begin, end) of [0, count): the heads each thread attended, as the attention splits them, whose rows
// are likelier in its own caches. With threads <= 1, once on the calling thread with all of them. A
// layer's eviction otherwise keeps one thread busy while the others wait for the next parallel region.
template <typename Evict>
void EvictInRuns(size_t count, size_t threads, Evict&& evict) {
  if (threads <= 1) {
    evict(size_t{0}, count, size_t{0});
    return;
  }
  ParallelRun(threads, [&](size_t t, size_t nt) { evict(count * t / nt, count * (t + 1) / nt, t); });
}

// Reads budget/sinks/recent/chunk with the given defaults, checks budget >= sinks + recent + chunk, then
// the wrapper keys (kv/budgets.h). With layers=B0:B1:... `budget` is not given; it becomes the largest
// entry.
ScoreBudget ReadScoreBudget(PolicyParams& p, size_t default_sinks, size_t default_recent);

class ScorePolicy : public KvPolicy {
 public:
  explicit ScorePolicy(const ScoreBudget& b) : budget_(b), now_(b), bound_(b) {}
  // Sizes the wrappers' per-layer state (and checks a layer list against the model), then OnBind.
  void Bind(const KvCacheShape& shape) final;
  // The bound per head over all layers: the largest layer budget, plus what a schedule lets grow
  // between runs, plus what adaptive heads may take from the others of their layer. Exact after Bind.
  size_t MaxSlots() const override;
  void Compress(size_t layer, KvCache& cache) final;
  // Attention rows go to the score (ObserveScores) and, with entropy budgets, to the entropy samples.
  bool WantsAttention() const final { return budget_.options.entropy() || ScoresNeedAttention(); }
  void Observe(const AttentionRow& row) final;
  void WillObserve(size_t layer, size_t kv_head) final {
    if (ScoresNeedAttention()) WillObserveScores(layer, kv_head);
  }
  // The score's state plus the entropy budgets' (ScoreMetadataBytes).
  size_t MetadataBytes() const final { return ScoreMetadataBytes() + (entropy_.enabled() ? entropy_.Bytes() : 0); }
  const ScoreBudget& budget() const { return budget_; }
  // After Bind: the most slots one head of `layer` holds after Compress, and all heads of it together.
  size_t HeadBound(size_t layer) const;
  size_t LayerBound(size_t layer) const;

 protected:
  // Policy-specific sizing, called by Bind.
  virtual void OnBind(const KvCacheShape& shape) {}
  // Whether the score needs attention rows, which then arrive at ObserveScores.
  virtual bool ScoresNeedAttention() const { return false; }
  virtual void ObserveScores(const AttentionRow& row) {}
  // KvPolicy::WillObserve, for the score.
  virtual void WillObserveScores(size_t layer, size_t kv_head) {}
  // Bytes of the score's own state (MetadataBytes adds the budgets').
  virtual size_t ScoreMetadataBytes() const { return 0; }
  // Scores the live slots of one head; higher = more worth keeping. out.size() == cache.Size(layer, head).
  virtual void Score(size_t layer, size_t kv_head, const KvCache& cache, std::span<float> out) = 0;
  // Called at the start of every Compress (once per layer and chunk), before the schedule decides whether
  // eviction runs: where a policy that hands each chunk's observations on (the Python package's
  // policies, python/src/python_policy.h) does so.
  virtual void BeforeCompress(size_t layer, const KvCache& cache) {}
  // Called after this policy evicted slots of one head, so per-slot state can follow.
  virtual void OnEvicted(size_t layer, size_t kv_head, const KvCache& cache) {}
  // Whether Score and OnEvicted may run for different heads of one layer at the same time (they touch no
  // state shared between heads). Then a layer's heads are evicted on the engine's threads at once.
  virtual bool ScoresHeadsConcurrently() const { return false; }
  // "budget=..,sinks=..,recent=..,chunk=..[,wrapper keys]" for Spec().
  std::string BudgetSpec() const;
  // "budget=N", or "layers=B0:B1:..." for a per-layer list.
  std::string BudgetKey() const;
  // The wrapper keys alone (",layers=pyramid,..."), for policies that write their own Spec.
  std::string OptionsSpec() const;

 private:
  // Whether eviction runs for this chunk (the schedule), from the layer's newest position.
  bool Due(size_t layer, const KvCache& cache);
  // ratio: sets now_ (and the layer budgets) for the stream's length.
  void Follow(size_t tokens_seen);
  // Entropy budgets: split again when due (layers=entropy sets layer_budget_).
  void SplitByEntropy(size_t tokens_seen);
  // What every head keeps regardless under `b`: sinks, recent window, chunk and one scored slot.
  static size_t Floor(const ScoreBudget& b) { return b.sinks + b.recent + b.chunk + 1; }
  // False for a ratio without a cap: the cache then grows with the stream.
  bool Bounded() const { return budget_.ratio <= 0.0 || budget_.budget > 0; }
  // What one head's eviction works in; one per thread, so eviction allocates nothing and heads of a
  // layer can be evicted concurrently.
  struct HeadScratch {
    std::vector<float> scores;  // [slots]
    ScoredSlots candidates;
    std::vector<uint32_t> kept;
    std::vector<uint32_t> merged;   // OrderKept's
    std::vector<uint32_t> dropped;  // the complement of kept (KvCache::Keep's scratch)
  };
  void CompressHeads(size_t layer, KvCache& cache);     // every head to the layer budget
  void CompressAdaptive(size_t layer, KvCache& cache);  // the layer's total, split by joint top scores
  // One head of CompressHeads down to budget b.
  void CompressHead(size_t layer, size_t head, size_t b, KvCache& cache, HeadScratch& s);
  // Fills s.candidates with the unprotected slots of one head (scores from Score), s.kept with the
  // protected ones, and returns how many slots are protected.
  size_t Candidates(size_t layer, size_t head, const KvCache& cache, HeadScratch& s);
  // s.kept = protected (slot order) + chosen, into slot order.
  static void OrderKept(size_t n_protected, HeadScratch& s);
  void KeepAndFollow(size_t layer, size_t head, KvCache& cache, HeadScratch& s);  // keep s.kept, re-rotate, OnEvicted

  ScoreBudget budget_;
  ScoreBudget now_;                       // the budget in force (BudgetAt), set by each Compress
  ScoreBudget bound_;                     // the largest budget in force (the cap's, for a ratio)
  std::string name_;                      // the policy's name, for LayerBudgets' messages
  size_t n_layers_ = 0;
  size_t n_kv_heads_ = 0;                 // 0 until Bind
  std::vector<size_t> layer_budget_;      // [layers] per-layer budgets in force (now_.budget's)
  std::vector<size_t> bound_budget_;      // [layers] the most a layer's budget can be; empty = unbounded
  std::vector<int32_t> last_newest_;      // [layers] newest position at the previous Compress
  std::vector<int32_t> last_run_;         // [layers] newest position when eviction last ran
  KeyRerotator rerotator_;
  EntropyBudgets entropy_;                // heads=entropy / layers=entropy
  struct Candidate {
    float score;
    uint32_t slot;
    uint32_t head;
  };
  std::vector<Candidate> joint_;          // adaptive: candidates of every head of a layer
  std::vector<HeadScratch> scratch_;      // [threads] reused across calls
  std::vector<std::pair<uint32_t, uint32_t>> due_;  // CompressHeads: (head, budget) of the heads it evicts
};

}  // namespace kvlab
