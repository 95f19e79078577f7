// Greedy generation under a policy vs under the full cache from the same prompts
// (docs/METRICS.md "Generation comparison"): what `kvlab gen-compare` runs, and the generation metric of
// `kvlab sweep` ([metrics] generation, docs/SWEEP.md).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "kvlab/model/model.h"
#include "kvlab/tokenizer/tokenizer.h"

namespace kvlab {

struct GenCompareOptions {
  std::string kv = "full";
  int32_t max_new_tokens = 64;
  bool stop_at_eos = false;   // false: both runs generate exactly max_new_tokens (comparable lengths)
  int32_t prompt_tokens = 0;  // > 0: each prompt is cut to its first prompt_tokens ids (BOS included)
  bool parse_special = false;  // special-token text in a prompt is that token (EncodeOptions)
};

struct PromptComparison {
  std::string prompt;  // the prompt's text (empty when the prompts were given as ids)
  int64_t prompt_tokens = 0;
  int64_t agreement_tokens = 0;  // length of the common prefix of the two generated id sequences
  double bleu = 0, rouge_l = 0;  // sentence-level, policy ids vs full ids
  std::vector<int32_t> full_ids, policy_ids;
  std::string full_text, policy_text;  // empty without a tokenizer
};

struct GenCompareResult {
  int64_t prompts = 0;
  double mean_agreement_tokens = 0;
  double bleu = 0;     // corpus BLEU over all prompts
  double rouge_l = 0;  // mean ROUGE-L F over prompts
  std::vector<PromptComparison> per_prompt;
};

// Encodes each prompt (BOS first when the vocabulary asks for it) and compares as CompareGenerationIds.
GenCompareResult CompareGeneration(const Model& model, const Tokenizer& tokenizer,
                                   std::span<const std::string> prompts, const GenCompareOptions& o);

// The comparison itself, from prompts already encoded (each non-empty after the prompt_tokens cut).
// `tokenizer` may be null: then no text is decoded (full_text / policy_text stay empty). `reference`, if
// non-empty, is the per_prompt of an earlier result for the same model, prompts, max_new_tokens and
// stop_at_eos: greedy decoding is deterministic, so its full-cache continuations (full_ids, full_text) are
// reused instead of generated again (a sweep compares many policies against one reference).
GenCompareResult CompareGenerationIds(const Model& model, const Tokenizer* tokenizer,
                                      std::span<const std::vector<int32_t>> prompts,
                                      const GenCompareOptions& o,
                                      std::span<const PromptComparison> reference = {});

nlohmann::json ToJson(const PromptComparison& p);
nlohmann::json ToJson(const GenCompareResult& r);

}  // namespace kvlab
