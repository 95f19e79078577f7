// kvlab gen-compare: greedy generation under a policy vs under the full cache from the same prompts
// (docs/METRICS.md "Generation comparison").
#include "kvlab/eval/gen_compare.h"

#include <cstdio>
#include <sstream>

#include "cli_common.h"
#include "commands.h"
#include "eval_common.h"
#include "kvlab/kv/registry.h"
#include "kvlab/util/error.h"
#include "kvlab/util/mapped_file.h"

namespace kvlab::cli {

namespace {
struct GenCompareArgs {
  ModelOptions model;
  std::string prompts_file;
  std::vector<std::string> prompts;
  int32_t n_prompts = 8;
  GenCompareOptions gen;
  bool show_text = false;
  JsonOutput json;
};

// The first n non-blank lines of a file.
std::vector<std::string> ReadPrompts(const std::string& name, int32_t n) {
  const std::string text = ReadTextSource(ResolveTextSource(name, "--prompts"), "--prompts");
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (static_cast<int32_t>(lines.size()) < n && std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") != std::string::npos) lines.push_back(line);
  }
  if (lines.empty()) throw Error("--prompts", name + " holds no non-blank line");
  return lines;
}

void Run(const GenCompareArgs& a) {
  const std::string spec = MakePolicy(a.gen.kv)->Spec();
  if (a.n_prompts < 1) throw Error("--n-prompts", "must be >= 1");
  std::vector<std::string> prompts = a.prompts;
  if (!a.prompts_file.empty()) {
    for (std::string& p : ReadPrompts(a.prompts_file, a.n_prompts)) prompts.push_back(std::move(p));
  }
  if (prompts.empty()) throw Error("--prompts", "no prompts: give --prompts FILE or -p TEXT");
  auto model = LoadModelFromOptions(a.model);
  auto tokenizer = LoadTokenizerFromOptions(*model, a.model);
  GenCompareOptions gen = a.gen;
  gen.parse_special = a.model.parse_special;
  const GenCompareResult r = CompareGeneration(*model, *tokenizer, prompts, gen);

  if (a.json.Requested()) {
    int64_t generated = 0;
    for (const PromptComparison& p : r.per_prompt) generated += static_cast<int64_t>(p.policy_ids.size());
    nlohmann::json j =
        ResultRow(a.model.model, a.prompts_file.empty() ? "-p" : a.prompts_file, generated, spec);
    j["command"] = "gen-compare";
    j["max_new_tokens"] = a.gen.max_new_tokens;
    j["prompt_tokens_limit"] = a.gen.prompt_tokens;
    j.update(ToJson(r));
    a.json.Write(j);
    if (a.json.path.empty() || a.json.path == "-") return;
  }
  std::printf("model %s | %lld prompts | %d new tokens each, greedy | kv %s vs full\n", a.model.model.c_str(),
              static_cast<long long>(r.prompts), a.gen.max_new_tokens, spec.c_str());
  std::printf("%-6s %8s %10s %8s %8s\n", "prompt", "p.tokens", "agreement", "BLEU", "ROUGE-L");
  for (size_t i = 0; i < r.per_prompt.size(); ++i) {
    const PromptComparison& p = r.per_prompt[i];
    std::printf("%-6zu %8lld %10lld %8.4f %8.4f\n", i, static_cast<long long>(p.prompt_tokens),
                static_cast<long long>(p.agreement_tokens), p.bleu, p.rouge_l);
    if (a.show_text) std::printf("  full:   %s\n  policy: %s\n", p.full_text.c_str(), p.policy_text.c_str());
  }
  std::printf("mean agreement %.2f tokens | corpus BLEU %.4f | mean ROUGE-L %.4f\n", r.mean_agreement_tokens,
              r.bleu, r.rouge_l);
}
}  // namespace

void AddGenCompareCommand(CLI::App& app) {
  auto args = std::make_shared<GenCompareArgs>();
  CLI::App* cmd = app.add_subcommand("gen-compare",
                                     "greedy generation under a policy vs the full cache (docs/METRICS.md)");
  AddModelOptions(cmd, args->model);
  cmd->add_option("--prompts", args->prompts_file,
                  "file of prompts, one per line (or a name under $KVLAB_ASSETS/text)");
  cmd->add_option("-p,--prompt", args->prompts, "a prompt (repeatable; added before the file's)");
  cmd->add_option("--n-prompts", args->n_prompts, "first N non-blank lines of --prompts")
      ->capture_default_str();
  cmd->add_option("--prompt-tokens", args->gen.prompt_tokens,
                  "cut each prompt to this many tokens (0: whole line)")
      ->capture_default_str();
  cmd->add_option("-n,--max-new-tokens", args->gen.max_new_tokens, "tokens generated per prompt")
      ->capture_default_str();
  cmd->add_flag("--stop-at-eos", args->gen.stop_at_eos,
                "stop a generation at EOS (default: always max-new-tokens)");
  cmd->add_option("--kv", args->gen.kv, "KV-cache policy spec (docs/POLICIES.md)")->capture_default_str();
  cmd->add_flag("--show-text", args->show_text, "print both continuations");
  args->json.Add(cmd);
  cmd->callback([args] { Run(*args); });
}

}  // namespace kvlab::cli
