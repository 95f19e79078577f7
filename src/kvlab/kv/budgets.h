// Budget and schedule wrappers of ScorePolicy (docs/POLICIES.md "Budgets, schedules and re-rotation"):
// keys every scored policy understands, on top of budget/sinks/recent/chunk.
//
//   layers=uniform|pyramid|B0:B1:...  per-layer budgets. pyramid: PyramidKV (Cai et al. 2024,
//                                     "PyramidKV: Dynamic KV Cache Compression based on Pyramidal
//                                     Information Funneling"): more in lower layers, decreasing linearly to
//                                     the top, no more in total than uniform. A list gives one budget per
//                                     layer (its length is checked against the model at Bind).
//   beta=20                           pyramid only: the top layer gets 1/beta of the uniform scored share.
//   heads=uniform|adaptive|entropy    adaptive: Ada-KV (Feng et al. 2024, "Ada-KV: Optimizing KV Cache
//                                     Eviction by Adaptive Budget Allocation"): a layer's n_kv_heads × budget
//                                     slots go to the top scores over all its heads jointly. entropy: split
//                                     among its heads by their attention entropy (kv/entropy_budgets.h).
//   layers=entropy                    the model's n_layers × budget per head split among the layers by their
//                                     attention entropy, online (with heads=entropy: among all heads).
//   entropy_every=32, entropy_cap=4   entropy budgets: split again every N tokens; no head above K × budget.
//   schedule=step|prefill|every-N     when eviction runs: after every chunk (default), only after
//                                     multi-token chunks (prefill; the cache then grows during decode), or
//                                     once N tokens arrived since the last run.
//   rerotate=true                     after eviction re-rotate kept keys to cache-relative positions
//                                     (StreamingLLM / llama.cpp context shift; kv/rerotate.h).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "kvlab/kv/spec.h"

namespace kvlab {

struct ScoreOptions {
  enum class Layers { kUniform, kPyramid, kList, kEntropy };
  enum class Schedule { kStep, kPrefill, kEvery };
  Layers layers = Layers::kUniform;
  size_t beta = 20;                  // pyramid: top-layer share = 1/beta of the uniform one
  std::vector<size_t> layer_budgets;  // kList: one budget per layer
  bool adaptive_heads = false;
  bool entropy_heads = false;
  size_t entropy_every = 32;  // entropy budgets: tokens between splits
  size_t entropy_cap = 4;     // entropy budgets: no head above entropy_cap × budget
  bool entropy() const { return entropy_heads || layers == Layers::kEntropy; }
  Schedule schedule = Schedule::kStep;
  size_t every = 1;  // kEvery: tokens between eviction runs
  bool rerotate = false;
};

// What a policy lets the user choose: per-layer / per-head budgets only make sense where `budget` is
// the scored share (not where recent = budget - sinks, as in window/sinks).
enum class WrapperKeys { kAll, kScheduleOnly };

// Reads layers/beta/heads/schedule/rerotate (only schedule/rerotate for kScheduleOnly). `budget`, `sinks`,
// `recent`, `chunk` are the policy's (already checked); a layer list entry below sinks + recent + chunk
// is rejected here, naming the entry.
ScoreOptions ReadScoreOptions(PolicyParams& p, size_t budget, size_t sinks, size_t recent, size_t chunk,
                              WrapperKeys which = WrapperKeys::kAll);

// ",layers=..,beta=..,heads=..,schedule=..,rerotate=true" — only what differs from the defaults.
std::string ScoreOptionsSpec(const ScoreOptions& o);

// Budget per layer for a model of `n_layers` (throws kvlab::Error("--kv", ...) naming `policy` when a
// list has the wrong length or the pyramid's top layer cannot hold the sinks).
std::vector<size_t> LayerBudgets(const std::string& policy, const ScoreOptions& o, size_t budget, size_t sinks,
                                 size_t recent, size_t chunk, size_t n_layers);

// The largest per-layer budget, known without the model (the pyramid's bottom layer does not depend on
// the layer count).
size_t LargestLayerBudget(const ScoreOptions& o, size_t budget, size_t recent, size_t chunk);

}  // namespace kvlab
