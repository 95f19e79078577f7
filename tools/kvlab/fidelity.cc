// kvlab fidelity: per-layer, per-head attention fidelity of a policy against the full cache on the same
// stream (docs/METRICS.md "Attention fidelity").
#include "kvlab/eval/fidelity.h"

#include <cstdio>

#include "cli_common.h"
#include "commands.h"
#include "eval_common.h"
#include "kvlab/kv/registry.h"

namespace kvlab::cli {

namespace {
struct FidelityArgs {
  ModelOptions model;
  std::string text;
  FidelityOptions fid;
  bool per_head = false;
  JsonOutput json;
};

void PrintRow(const char* label, const HeadFidelity& h) {
  std::printf("%-10s %7lld %9.5f %10.4g %8.5f %8.5f %8.5f %8.4f %10.4g\n", label,
              static_cast<long long>(h.samples), h.retained_mass, h.kl, h.cosine, h.l1, h.l2,
              h.argmax_agreement, h.output_rel_error);
}

void Run(const FidelityArgs& a) {
  const std::string spec = MakePolicy(a.fid.kv)->Spec();
  const TextSource text = ResolveTextSource(a.text, "--text");
  auto model = LoadModelFromOptions(a.model);
  auto tokenizer = LoadTokenizerFromOptions(*model, a.model);
  const std::vector<int32_t> tokens =
      TokenizeText(*tokenizer, text, FidelityTokensNeeded(a.fid, model->config()), "--text", a.model.parse_special);
  const FidelityResult r = EvaluateFidelity(*model, tokens, a.fid);

  if (a.json.Requested()) {
    nlohmann::json j = ResultRow(a.model.model, a.text, r.tokens, spec);
    j["command"] = "fidelity";
    j["warmup"] = a.fid.warmup;
    j["stride"] = a.fid.stride;
    j.update(ToJson(r));
    a.json.Write(j);
    if (a.json.path.empty() || a.json.path == "-") return;
  }
  std::printf("model %s | %s | %lld tokens | kv %s | warmup %d stride %d | KL smoothing eps %.0e\n",
              a.model.model.c_str(), a.text.c_str(), static_cast<long long>(r.tokens), spec.c_str(),
              a.fid.warmup, a.fid.stride, r.epsilon);
  std::printf("%-10s %7s %9s %10s %8s %8s %8s %8s %10s\n", "layer/head", "samples", "retained", "KL",
              "cosine", "L1", "L2", "argmax", "out relerr");
  for (const HeadFidelity& l : r.layers) {
    if (a.per_head) {
      for (const HeadFidelity& h : r.heads) {
        if (h.layer != l.layer) continue;
        const std::string label = "L" + std::to_string(h.layer) + "/h" + std::to_string(h.head);
        PrintRow(label.c_str(), h);
      }
    }
    const std::string label = "L" + std::to_string(l.layer) + " mean";
    PrintRow(label.c_str(), l);
  }
  if (r.layers.size() > 1) PrintRow("all", r.mean);
}
}  // namespace

void AddFidelityCommand(CLI::App& app) {
  auto args = std::make_shared<FidelityArgs>();
  CLI::App* cmd = app.add_subcommand(
      "fidelity", "attention fidelity of a policy vs the full cache per layer/head (docs/METRICS.md)");
  AddModelOptions(cmd, args->model);
  cmd->add_option("--text", args->text, "text file, a name under $KVLAB_ASSETS/text, or a WikiText article (wikitext-2:3; kvlab texts)")->required();
  cmd->add_option("--kv", args->fid.kv, "KV-cache policy spec (docs/POLICIES.md)")->capture_default_str();
  cmd->add_option("--layers", args->fid.layers, "layers to measure (default: 6, or the middle layer)")
      ->delimiter(',');
  cmd->add_option("--warmup", args->fid.warmup, "first sampled query position")->capture_default_str();
  cmd->add_option("--stride", args->fid.stride, "sample every stride-th query position")
      ->capture_default_str();
  cmd->add_option("--max-tokens", args->fid.max_tokens, "tokens streamed (0: the model's trained context)")
      ->capture_default_str();
  cmd->add_flag("--per-head", args->per_head, "print every head, not only the layer means");
  args->json.Add(cmd);
  cmd->callback([args] { Run(*args); });
}

}  // namespace kvlab::cli
