// The sweep's generation metric ([metrics] generation, docs/SWEEP.md): greedy generation under a point's
// policy vs under the full cache (eval/gen_compare.h) from prompts cut from the point's text, to every
// total length of generation_lengths. The full-cache continuations depend only on the model, the text and
// the length, so they are generated once per model and reused by every policy.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "kvlab/eval/gen_compare.h"
#include "kvlab/eval/text_source.h"
#include "kvlab/model/model.h"
#include "kvlab/sweep/grid.h"
#include "kvlab/sweep/sweep_config.h"
#include "kvlab/tokenizer/tokenizer.h"

namespace kvlab {

// `count` prompts of `prompt_tokens` ids each: consecutive windows of the text's tokens, in order from
// its start, each with BOS first when the vocabulary asks for one (so a window holds prompt_tokens - 1
// text tokens then). Throws kvlab::Error naming the text if it is too short.
std::vector<std::vector<int32_t>> GenerationPrompts(const Tokenizer& tokenizer, const TextSource& text,
                                                    int64_t count, int64_t prompt_tokens);

class GenerationMetric {
 public:
  explicit GenerationMetric(const SweepMetrics& metrics) : metrics_(metrics) {}

  // Forgets the prompts and references: the next point is on another model.
  void Reset();

  // Before any point runs: every length within the model's trained context, the text long enough for the
  // prompts. Throws kvlab::Error naming the key.
  void Check(const Model& model, const Tokenizer& tokenizer, const GridPoint& point);

  // The row fields: `generation` (one entry per length) and the gen_* means over lengths.
  nlohmann::json Evaluate(const Model& model, const Tokenizer& tokenizer, const GridPoint& point);

 private:
  const std::vector<std::vector<int32_t>>& PromptsFor(const Tokenizer& tokenizer, const GridPoint& point);

  SweepMetrics metrics_;
  std::map<std::string, std::vector<std::vector<int32_t>>> prompts_;  // text key -> prompts
  std::map<std::string, std::vector<PromptComparison>> references_;   // text key + "\t" + length
};

}  // namespace kvlab
