// SweepEvaluator: the metrics of one grid point on a real model (what `kvlab sweep` runs per point):
// streaming perplexity and the comparison with the full cache (eval/perplexity.h), attention fidelity
// (eval/fidelity.h), decode / prefill speed (eval/bench.h), greedy generation against the full cache
// (sweep/generation_metric.h), retrieval tasks (tasks/task_runner.h), peak RSS.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "kvlab/model/model.h"
#include "kvlab/sweep/generation_metric.h"
#include "kvlab/sweep/grid.h"
#include "kvlab/tasks/task_runner.h"
#include "kvlab/tokenizer/chat_template.h"
#include "kvlab/tokenizer/tokenizer.h"

namespace kvlab {

// The first `count` tokens of a text (a file or a WikiText article; BOS first when the vocabulary asks for
// it). Encodes a growing prefix of the text rather than all of it. Throws kvlab::Error naming the file if
// it has fewer tokens, and `needed_for` (what asked for that many) in parentheses.
std::vector<int32_t> LoadTextTokens(const Tokenizer& tokenizer, const TextSource& text, int64_t count,
                                    const std::string& needed_for = "data.tokens");

class SweepEvaluator {
 public:
  explicit SweepEvaluator(const SweepMetrics& metrics) : metrics_(metrics), generation_(metrics) {}

  // Checks what needs the models, before any point runs: ctx within each model's trained context, texts
  // long enough, fidelity layers that exist, generation lengths that fit, every spec binds to every model.
  // Loads each model once.
  // Throws kvlab::Error naming the model, text or [[policy]] entry.
  void Preflight(const std::vector<GridPoint>& points);

  // Metric fields of one point (row schema in docs/SWEEP.md).
  nlohmann::json Evaluate(const GridPoint& point);

 private:
  const Model& ModelFor(const std::filesystem::path& path);
  const std::vector<int32_t>& TokensFor(const GridPoint& point);
  nlohmann::json Quality(const GridPoint& point, const std::vector<int32_t>& tokens);
  nlohmann::json Fidelity(const GridPoint& point, const std::vector<int32_t>& tokens);
  nlohmann::json Speed(const GridPoint& point);
  nlohmann::json Tasks(const GridPoint& point);
  TaskGridOptions TaskOptions(uint64_t seed) const;

  SweepMetrics metrics_;
  GenerationMetric generation_;  // holds the full-cache continuations of the loaded model
  // One model at a time: the grid is model-major.
  std::filesystem::path model_path_;
  std::unique_ptr<Model> model_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::unique_ptr<ChatTemplate> chat_;  // [tasks] chat = true: the loaded model's chat template
  std::vector<int32_t> end_of_turn_;    // and the tokens that end its turn
  std::map<std::string, std::vector<int32_t>> tokens_;  // "text path\ttokens" -> ids, for the loaded model
};

}  // namespace kvlab
