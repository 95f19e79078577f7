#include "kvlab/kv/budgets.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include "kvlab/util/error.h"

namespace kvlab {

namespace {
constexpr const char* kWhere = "--kv";
constexpr int64_t kMax = int64_t{1} << 30;

// Parses "256:192:128:64" (every entry a positive integer).
std::vector<size_t> ParseLayerList(const std::string& policy, const std::string& text) {
  std::vector<size_t> out;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t end = std::min(text.find(':', start), text.size());
    const std::string item = text.substr(start, end - start);
    errno = 0;
    char* stop = nullptr;
    const long long v = std::strtoll(item.c_str(), &stop, 10);
    if (item.empty() || errno != 0 || *stop != '\0' || v < 1 || v > kMax) {
      throw Error(kWhere, policy + ": layers=" + text + ": '" + item + "' is not a budget",
                  "layers=uniform, layers=pyramid or one budget per layer, e.g. layers=256:192:128:64");
    }
    out.push_back(static_cast<size_t>(v));
    start = end + 1;
  }
  return out;
}

// PyramidKV's shares of the scored part F = budget - recent - chunk (the recent window, PyramidKV's
// observation window, stays the same in every layer): the top layer gets F / beta, the bottom one
// 2F - F / beta, linear in between, so the mean is F.
struct Pyramid {
  size_t top, bottom;
};
Pyramid PyramidShares(size_t scored, size_t beta) {
  const size_t top = scored / beta;
  return {top, 2 * scored - top};
}
}  // namespace

ScoreOptions ReadScoreOptions(PolicyParams& p, size_t budget, size_t sinks, size_t recent, size_t chunk,
                              WrapperKeys which) {
  ScoreOptions o;
  if (which == WrapperKeys::kAll) {
    const std::string layers = p.Text("layers", "uniform");
    if (layers == "pyramid") {
      o.layers = ScoreOptions::Layers::kPyramid;
      o.beta = static_cast<size_t>(p.Int("beta", 20, 1, kMax));
      // budget 0: a ratio's, which grows with the stream; until its top layer holds the sinks, that layer
      // keeps its protected slots only.
      const Pyramid s = PyramidShares(budget > 0 ? budget - recent - chunk : 0, o.beta);
      if (budget > 0 && (s.top < sinks || recent + chunk + s.top == 0)) {
        throw Error(kWhere,
                    p.policy() + ": layers=pyramid: the top layer's budget " + std::to_string(recent + chunk + s.top) +
                        " cannot hold sinks (" + std::to_string(sinks) + ") + recent (" + std::to_string(recent) +
                        ") + chunk (" + std::to_string(chunk) + ") and at least one slot",
                    "raise budget or lower beta (the top layer keeps (budget - recent - chunk) / beta scored slots)");
      }
    } else if (layers == "entropy") {
      o.layers = ScoreOptions::Layers::kEntropy;
    } else if (layers != "uniform") {
      o.layers = ScoreOptions::Layers::kList;
      o.layer_budgets = ParseLayerList(p.policy(), layers);
      for (size_t b : o.layer_budgets) {
        if (b < sinks + recent + chunk) {
          throw Error(kWhere, p.policy() + ": layers=" + layers + ": budget " + std::to_string(b) + " < sinks (" +
                                  std::to_string(sinks) + ") + recent (" + std::to_string(recent) + ") + chunk (" +
                                  std::to_string(chunk) + ")");
        }
      }
    }
    const std::string heads = p.Choice("heads", "uniform", {"uniform", "adaptive", "entropy"});
    o.adaptive_heads = heads == "adaptive";
    o.entropy_heads = heads == "entropy";
    if (o.entropy_heads && (o.layers == ScoreOptions::Layers::kPyramid || o.layers == ScoreOptions::Layers::kList)) {
      throw Error(kWhere, p.policy() + ": heads=entropy splits one budget among a layer's heads; it combines with "
                          "layers=uniform or layers=entropy, not layers=" + layers);
    }
    if (o.entropy()) {
      o.entropy_every = static_cast<size_t>(p.Int("entropy_every", 32, 1, kMax));
      o.entropy_cap = static_cast<size_t>(p.Int("entropy_cap", 4, 1, 1024));
    }
  }
  const std::string schedule = p.Text("schedule", "step");
  if (schedule == "prefill") {
    o.schedule = ScoreOptions::Schedule::kPrefill;
  } else if (schedule.rfind("every-", 0) == 0) {
    const std::string n = schedule.substr(6);
    errno = 0;
    char* stop = nullptr;
    const long long v = std::strtoll(n.c_str(), &stop, 10);
    if (n.empty() || errno != 0 || *stop != '\0' || v < 1 || v > kMax) {
      throw Error(kWhere, p.policy() + ": schedule=" + schedule + ": N must be a positive integer");
    }
    o.schedule = ScoreOptions::Schedule::kEvery;
    o.every = static_cast<size_t>(v);
  } else if (schedule != "step") {
    throw Error(kWhere, p.policy() + ": schedule=" + schedule + " is not a schedule",
                "schedule=step (every chunk), schedule=prefill (multi-token chunks only) or schedule=every-N");
  }
  o.rerotate = p.Bool("rerotate", false);
  return o;
}

std::string ScoreOptionsSpec(const ScoreOptions& o) {
  std::string s;
  if (o.layers == ScoreOptions::Layers::kPyramid) s += ",layers=pyramid,beta=" + std::to_string(o.beta);
  if (o.layers == ScoreOptions::Layers::kEntropy) s += ",layers=entropy";
  if (o.adaptive_heads) s += ",heads=adaptive";
  if (o.entropy_heads) s += ",heads=entropy";
  if (o.entropy()) s += ",entropy_every=" + std::to_string(o.entropy_every) + ",entropy_cap=" + std::to_string(o.entropy_cap);
  if (o.schedule == ScoreOptions::Schedule::kPrefill) s += ",schedule=prefill";
  if (o.schedule == ScoreOptions::Schedule::kEvery) s += ",schedule=every-" + std::to_string(o.every);
  if (o.rerotate) s += ",rerotate=true";
  return s;
}

std::vector<size_t> LayerBudgets(const std::string& policy, const ScoreOptions& o, size_t budget, size_t sinks,
                                 size_t recent, size_t chunk, size_t n_layers) {
  switch (o.layers) {
    case ScoreOptions::Layers::kUniform:
    case ScoreOptions::Layers::kEntropy:  // the start; ScorePolicy moves them (kv/entropy_budgets.h)
      return std::vector<size_t>(n_layers, budget);
    case ScoreOptions::Layers::kList:
      if (o.layer_budgets.size() != n_layers) {
        throw Error(kWhere, policy + ": layers= lists " + std::to_string(o.layer_budgets.size()) +
                                " budgets but the model has " + std::to_string(n_layers) + " layers",
                    "give one budget per layer, bottom layer first");
      }
      return o.layer_budgets;
    case ScoreOptions::Layers::kPyramid:
      break;
  }
  const size_t scored = budget - recent - chunk;
  if (n_layers == 1) return {budget};
  const Pyramid s = PyramidShares(scored, o.beta);
  std::vector<size_t> out(n_layers);
  for (size_t l = 0; l < n_layers; ++l) {
    // Rounded so every layer gets at most its exact linear share: the total never exceeds uniform.
    const size_t drop = (l * (s.bottom - s.top) + n_layers - 2) / (n_layers - 1);
    out[l] = recent + chunk + s.bottom - drop;
  }
  (void)sinks;  // the top layer's room for sinks was checked when the spec was read
  return out;
}

size_t LargestLayerBudget(const ScoreOptions& o, size_t budget, size_t recent, size_t chunk) {
  switch (o.layers) {
    case ScoreOptions::Layers::kUniform:
      return o.entropy_heads ? o.entropy_cap * budget : budget;
    case ScoreOptions::Layers::kEntropy:
      return o.entropy_cap * budget;
    case ScoreOptions::Layers::kList:
      return *std::max_element(o.layer_budgets.begin(), o.layer_budgets.end());
    case ScoreOptions::Layers::kPyramid:
      break;
  }
  return std::max(budget, recent + chunk + PyramidShares(budget - recent - chunk, o.beta).bottom);
}

}  // namespace kvlab
