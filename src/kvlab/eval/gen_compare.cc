#include "kvlab/eval/gen_compare.h"

#include "kvlab/eval/text_metrics.h"
#include "kvlab/gen/generate.h"
#include "kvlab/kv/registry.h"
#include "kvlab/util/error.h"

namespace kvlab {

namespace {
// Greedy continuation of `prompt` under `prototype` (a fresh clone, a fresh cache).
GenerateResult Greedy(const Model& model, const Tokenizer* tokenizer, const KvPolicy& prototype,
                      const std::vector<int32_t>& prompt, const GenCompareOptions& o) {
  std::unique_ptr<KvPolicy> policy = prototype.Clone();
  GenerateOptions g;
  g.max_new_tokens = o.max_new_tokens;
  g.stop_at_eos = o.stop_at_eos;
  g.sampler.temperature = 0;  // greedy: Argmax, no randomness
  g.policy = policy.get();
  KvCache cache(
      model.config().CacheShape(),
      RequiredCapacity(policy.get(), prompt.size() + static_cast<size_t>(o.max_new_tokens), g.prefill_batch),
      CacheCodecFor(policy.get()));
  return Generate(model, tokenizer, cache, prompt, g);
}

// The policy, bound to the model; bad options fail before any prompt is encoded or generated.
std::unique_ptr<KvPolicy> CheckedPolicy(const ModelConfig& c, const GenCompareOptions& o, size_t prompts) {
  std::unique_ptr<KvPolicy> policy = MakePolicy(o.kv);
  if (o.max_new_tokens < 1) throw Error("--max-new-tokens", "must be >= 1");
  if (o.prompt_tokens < 0) throw Error("--prompt-tokens", "must be >= 0 (0: whole prompt)");
  if (prompts == 0) throw Error("prompts", "none given");
  policy->Bind(c.CacheShape());
  return policy;
}
}  // namespace

GenCompareResult CompareGeneration(const Model& model, const Tokenizer& tokenizer,
                                   std::span<const std::string> prompts, const GenCompareOptions& o) {
  CheckedPolicy(model.config(), o, prompts.size());
  std::vector<std::vector<int32_t>> ids;
  for (const std::string& text : prompts) {
    ids.push_back(tokenizer.Encode(
        text, EncodeOptions{.add_special = tokenizer.add_bos_default(), .parse_special = o.parse_special}));
    if (ids.back().empty()) throw Error("prompts", "the prompt '" + text + "' encodes to no tokens");
  }
  GenCompareResult r = CompareGenerationIds(model, &tokenizer, ids, o);
  for (size_t i = 0; i < prompts.size(); ++i) r.per_prompt[i].prompt = prompts[i];
  return r;
}

GenCompareResult CompareGenerationIds(const Model& model, const Tokenizer* tokenizer,
                                      std::span<const std::vector<int32_t>> prompts,
                                      const GenCompareOptions& o,
                                      std::span<const PromptComparison> reference) {
  const ModelConfig& c = model.config();
  std::unique_ptr<KvPolicy> policy = CheckedPolicy(c, o, prompts.size());
  if (!reference.empty() && reference.size() != prompts.size()) {
    throw Error("gen-compare", "a reference of " + std::to_string(reference.size()) + " continuations for " +
                                   std::to_string(prompts.size()) + " prompts");
  }
  std::unique_ptr<KvPolicy> full = MakePolicy("full");
  full->Bind(c.CacheShape());

  GenCompareResult r;
  std::vector<std::vector<int32_t>> candidates, references;
  double agreement = 0, rouge = 0;
  for (size_t i = 0; i < prompts.size(); ++i) {
    std::vector<int32_t> ids = prompts[i];
    if (o.prompt_tokens > 0 && ids.size() > static_cast<size_t>(o.prompt_tokens)) ids.resize(o.prompt_tokens);
    if (ids.empty()) throw Error("prompts", "prompt " + std::to_string(i) + " has no tokens");
    if (c.arch == Arch::kGpt2 &&
        ids.size() + static_cast<size_t>(o.max_new_tokens) > static_cast<size_t>(c.max_seq_len)) {
      throw Error("--max-new-tokens", "prompt + new tokens exceed the " + std::to_string(c.max_seq_len) +
                                          " learned positions of this GPT-2 model");
    }
    PromptComparison p;
    p.prompt_tokens = static_cast<int64_t>(ids.size());
    if (!reference.empty()) {
      p.full_ids = reference[i].full_ids;
      p.full_text = reference[i].full_text;
    } else {
      GenerateResult ref = Greedy(model, tokenizer, *full, ids, o);
      p.full_ids = std::move(ref.tokens);
      p.full_text = std::move(ref.text);
    }
    GenerateResult cand = Greedy(model, tokenizer, *policy, ids, o);
    p.policy_ids = std::move(cand.tokens);
    p.policy_text = std::move(cand.text);
    p.agreement_tokens = CommonPrefixLength(p.policy_ids, p.full_ids);
    p.bleu = SentenceBleu(p.policy_ids, p.full_ids);
    p.rouge_l = RougeL(p.policy_ids, p.full_ids);
    agreement += static_cast<double>(p.agreement_tokens);
    rouge += p.rouge_l;
    candidates.push_back(p.policy_ids);
    references.push_back(p.full_ids);
    r.per_prompt.push_back(std::move(p));
  }
  r.prompts = static_cast<int64_t>(prompts.size());
  r.mean_agreement_tokens = agreement / static_cast<double>(r.prompts);
  r.rouge_l = rouge / static_cast<double>(r.prompts);
  r.bleu = CorpusBleu(candidates, references);
  return r;
}

nlohmann::json ToJson(const PromptComparison& p) {
  return {{"prompt", p.prompt},
          {"prompt_tokens", p.prompt_tokens},
          {"agreement_tokens", p.agreement_tokens},
          {"bleu", p.bleu},
          {"rouge_l", p.rouge_l},
          {"full_ids", p.full_ids},
          {"policy_ids", p.policy_ids},
          {"full_text", p.full_text},
          {"policy_text", p.policy_text}};
}

nlohmann::json ToJson(const GenCompareResult& r) {
  nlohmann::json per = nlohmann::json::array();
  for (const PromptComparison& p : r.per_prompt) per.push_back(ToJson(p));
  return {{"prompts", r.prompts},
          {"mean_agreement_tokens", r.mean_agreement_tokens},
          {"bleu", r.bleu},
          {"rouge_l", r.rouge_l},
          {"per_prompt", per}};
}

}  // namespace kvlab
