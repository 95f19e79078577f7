// kvlab ppl: perplexity of a text under a KV-cache policy, streaming or llama.cpp-windowed, optionally
// against the full cache in lockstep (docs/METRICS.md).
#include <cmath>
#include <cstdio>

#include "cli_common.h"
#include "commands.h"
#include "eval_common.h"
#include "kvlab/eval/perplexity.h"
#include "kvlab/kv/registry.h"
#include "kvlab/util/error.h"

namespace kvlab::cli {

namespace {
struct PplArgs {
  ModelOptions model;
  std::string text;
  std::string ids;
  PerplexityOptions ppl;
  JsonOutput json;
};

void Run(const PplArgs& a) {
  const std::string spec = MakePolicy(a.ppl.kv)->Spec();  // a bad spec fails before the model is loaded
  if (a.text.empty() == a.ids.empty()) throw Error("--text", "give exactly one of --text and --ids");
  const TextSource text = a.text.empty() ? TextSource{} : ResolveTextSource(a.text, "--text");
  auto model = LoadModelFromOptions(a.model);
  const ModelConfig& c = model->config();
  std::vector<int32_t> tokens;
  if (!a.ids.empty()) {
    tokens = ReadIdsFile(a.ids, "--ids");
  } else {
    auto tokenizer = LoadTokenizerFromOptions(*model, a.model);
    tokens = TokenizeText(*tokenizer, text, PerplexityTokensNeeded(a.ppl, c), "--text", a.model.parse_special);
  }
  const PerplexityResult r = EvaluatePerplexity(*model, tokens, a.ppl);

  if (a.json.Requested()) {
    nlohmann::json j = ResultRow(a.model.model, a.ids.empty() ? a.text : a.ids, r.tokens, spec);
    j["command"] = "ppl";
    j["ctx"] = a.ppl.ctx > 0 ? a.ppl.ctx : c.max_seq_len;
    j["windowed"] = a.ppl.windowed;
    j["stride"] = a.ppl.stride;
    j["stream_past_context"] = a.ppl.stream_past_context;
    j["max_tokens"] = a.ppl.max_tokens;
    j["curve_block"] = a.ppl.curve_block;
    j.update(ToJson(r));
    a.json.Write(j);
    if (a.json.path.empty() || a.json.path == "-") return;
  }
  const std::string mode =
      a.ppl.windowed
          ? (a.ppl.stride > 0 ? "windowed, stride " + std::to_string(a.ppl.stride) : std::string("windowed"))
          : (a.ppl.stream_past_context ? "streaming past context" : "streaming");
  std::printf("model %s | %s | %s | kv %s\n", a.model.model.c_str(),
              a.ids.empty() ? a.text.c_str() : a.ids.c_str(), mode.c_str(), spec.c_str());
  std::printf("tokens scored %lld | nll %.6f | ppl %.4f | kv %lld B + policy %lld B\n",
              static_cast<long long>(r.tokens), r.nll_mean, r.ppl, static_cast<long long>(r.kv_bytes),
              static_cast<long long>(r.policy_bytes));
  if (r.has_full) {
    std::printf(
        "vs full: ppl_full %.4f | ppl ratio %.5f | KL mean %.3g median %.3g p99 %.3g max %.3g | top-1 %.4f | "
        "RMS dp %.4g | full kv %lld B\n",
        r.ppl_full, r.ppl_ratio, r.kl_mean, r.kl_median, r.kl_p99, r.kl_max, r.top1_agreement, r.rms_dp,
        static_cast<long long>(r.kv_bytes_full));
  }
  if (!r.nll_curve.empty()) {
    std::printf("%-8s %-16s %10s%s\n", "block", "scored tokens", "ppl", r.has_full ? "    ppl_full" : "");
    for (size_t b = 0; b < r.nll_curve.size(); ++b) {
      const long long lo = static_cast<long long>(b) * a.ppl.curve_block;
      const long long hi = std::min<long long>(lo + a.ppl.curve_block, r.tokens);
      char range[48];
      std::snprintf(range, sizeof(range), "%lld-%lld", lo, hi - 1);
      std::printf("%-8zu %-16s %10.4f", b, range, std::exp(r.nll_curve[b]));
      if (r.has_full) std::printf("  %10.4f", std::exp(r.nll_curve_full[b]));
      std::printf("\n");
    }
  }
}
}  // namespace

void AddPplCommand(CLI::App& app) {
  auto args = std::make_shared<PplArgs>();
  CLI::App* cmd = app.add_subcommand("ppl", "perplexity of a text under a KV-cache policy (docs/METRICS.md)");
  AddModelOptions(cmd, args->model);
  cmd->add_option("--text", args->text,
                  "text file, a name under $KVLAB_ASSETS/text (e.g. tinystories_val.txt), or a WikiText "
                  "article (wikitext-2:3; kvlab texts lists them)");
  cmd->add_option("--ids", args->ids, "token ids instead of a text (JSON array or whitespace-separated)");
  cmd->add_option("--kv", args->ppl.kv, "KV-cache policy spec (docs/POLICIES.md)")->capture_default_str();
  cmd->add_option("-c,--ctx", args->ppl.ctx,
                  "streaming: most tokens scored (without --stream-past-context); windowed: window length "
                  "(0: the model's trained context)")
      ->capture_default_str();
  cmd->add_option("--max-tokens", args->ppl.max_tokens, "use at most this many tokens of the text (0: all)")
      ->capture_default_str();
  cmd->add_flag("--windowed", args->ppl.windowed,
                "llama.cpp protocol: non-overlapping windows of ctx tokens, second half of each scored");
  cmd->add_option(
         "--stride", args->ppl.stride,
         "with --windowed: llama.cpp's --ppl-stride (windows every STRIDE tokens, last STRIDE scored)")
      ->capture_default_str();
  cmd->add_flag("--vs-full", args->ppl.vs_full,
                "run the full cache in lockstep: KL, top-1 agreement, RMS dp");
  cmd->add_flag("--stream-past-context", args->ppl.stream_past_context,
                "let the stream run past ctx (RoPE models; see the rerotate key in docs/POLICIES.md)");
  cmd->add_option("--curve-block", args->ppl.curve_block,
                  "also report ppl per block of this many scored tokens")
      ->capture_default_str();
  args->json.Add(cmd);
  cmd->callback([args] { Run(*args); });
}

}  // namespace kvlab::cli
