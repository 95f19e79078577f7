#include "kvlab/sweep/generation_metric.h"

#include "kvlab/sweep/evaluate_point.h"
#include "kvlab/util/error.h"

namespace kvlab {

using nlohmann::json;

std::vector<std::vector<int32_t>> GenerationPrompts(const Tokenizer& tokenizer, const TextSource& text,
                                                    int64_t count, int64_t prompt_tokens) {
  const int64_t bos = tokenizer.add_bos_default() ? 1 : 0;
  const int64_t body = prompt_tokens - bos;  // text tokens per prompt
  if (body < 1) throw Error("metrics.generation_prompt_tokens", "leaves no text token after BOS");
  // [bos] + count * body text tokens, the same stream the other metrics read.
  const std::vector<int32_t> ids =
      LoadTextTokens(tokenizer, text, bos + count * body,
                     std::to_string(count) + " prompts of " + std::to_string(prompt_tokens) + " tokens");
  std::vector<std::vector<int32_t>> prompts;
  for (int64_t i = 0; i < count; ++i) {
    std::vector<int32_t> p(ids.begin(), ids.begin() + bos);
    p.insert(p.end(), ids.begin() + bos + i * body, ids.begin() + bos + (i + 1) * body);
    prompts.push_back(std::move(p));
  }
  return prompts;
}

void GenerationMetric::Reset() {
  prompts_.clear();
  references_.clear();
}

const std::vector<std::vector<int32_t>>& GenerationMetric::PromptsFor(const Tokenizer& tokenizer,
                                                                      const GridPoint& p) {
  const std::string key = p.text_source.Name();
  auto it = prompts_.find(key);
  if (it == prompts_.end()) {
    it = prompts_
             .emplace(key, GenerationPrompts(tokenizer, p.text_source, metrics_.generation_prompts,
                                             metrics_.generation_prompt_tokens))
             .first;
  }
  return it->second;
}

void GenerationMetric::Check(const Model& model, const Tokenizer& tokenizer, const GridPoint& p) {
  const int64_t trained = model.config().max_seq_len;
  for (int64_t len : metrics_.generation_lengths) {
    if (len > trained) {
      throw Error("metrics.generation_lengths",
                  std::to_string(len) + " exceeds the trained context of " + p.model + " (" +
                      std::to_string(trained) + ")",
                  "prompt + generated tokens must fit the model's positions");
    }
  }
  try {
    PromptsFor(tokenizer, p);
  } catch (const Error& e) {
    throw Error("metrics.generation_prompts: " + p.model, e.what());
  }
}

json GenerationMetric::Evaluate(const Model& model, const Tokenizer& tokenizer, const GridPoint& p) {
  const std::vector<std::vector<int32_t>>& prompts = PromptsFor(tokenizer, p);
  json lengths = json::array();
  double agreement = 0, bleu = 0, rouge = 0;
  for (int64_t len : metrics_.generation_lengths) {
    GenCompareOptions o;
    o.kv = p.spec;
    o.max_new_tokens = static_cast<int32_t>(len - metrics_.generation_prompt_tokens);
    o.stop_at_eos = false;  // every continuation reaches the length, so lengths are comparable
    const std::string ref_key = p.text_source.Name() + "\t" + std::to_string(len);
    auto ref = references_.find(ref_key);
    const GenCompareResult r = ref == references_.end()
                                   ? CompareGenerationIds(model, &tokenizer, prompts, o)
                                   : CompareGenerationIds(model, &tokenizer, prompts, o, ref->second);
    if (ref == references_.end()) references_.emplace(ref_key, r.per_prompt);
    json per_prompt = json::array();
    for (const PromptComparison& c : r.per_prompt) {
      per_prompt.push_back(
          {{"agreement_tokens", c.agreement_tokens}, {"bleu", c.bleu}, {"rouge_l", c.rouge_l}});
    }
    lengths.push_back({{"total_tokens", len},
                       {"prompt_tokens", metrics_.generation_prompt_tokens},
                       {"new_tokens", o.max_new_tokens},
                       {"prompts", r.prompts},
                       {"agreement_tokens", r.mean_agreement_tokens},
                       {"bleu", r.bleu},
                       {"rouge_l", r.rouge_l},
                       {"per_prompt", per_prompt}});
    agreement += r.mean_agreement_tokens;
    bleu += r.bleu;
    rouge += r.rouge_l;
  }
  const double n = static_cast<double>(metrics_.generation_lengths.size());
  return {{"generation", lengths},
          {"gen_agreement_tokens", agreement / n},
          {"gen_bleu", bleu / n},
          {"gen_rouge_l", rouge / n}};
}

}  // namespace kvlab
