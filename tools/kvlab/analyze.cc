// kvlab analyze: look inside the KV cache of a model on a text. One --mode per run (or "all"); each mode
// writes <mode>.json and <mode>.csv into --out (src/kvlab/analysis/, one file per mode). --plot then draws
// them with the report script (kvlab report --analysis DIR).
#include <cstdio>
#include <fstream>
#include <sstream>

#include "cli_common.h"
#include "commands.h"
#include "kvlab/analysis/analysis.h"
#include "kvlab/eval/text_source.h"
#include "kvlab/util/assets.h"
#include "kvlab/util/error.h"
#include "report_runner.h"

namespace kvlab::cli {

namespace {
struct AnalyzeArgs {
  ModelOptions model;
  std::string text;
  std::vector<std::string> modes;
  std::string out = "analysis";
  int32_t max_tokens = 256;
  std::string tucker_ranks;
  int hooi_iterations = 2;
  std::string prune_layers, prune_heads;
  size_t keep_dims = 0;
  int32_t prompt_tokens = 32;
  bool plot = false;
};

// The first max_bytes of a text (eval/text_source.h), not cutting a UTF-8 sequence in half.
std::string ReadTextPrefix(const std::string& argument, size_t max_bytes) {
  std::string s = ReadTextSource(ResolveTextSource(argument, "--text"), "--text");
  if (s.size() <= max_bytes) return s;
  s.resize(max_bytes);
  while (!s.empty() && (static_cast<unsigned char>(s.back()) & 0xC0) == 0x80) s.pop_back();
  if (!s.empty() && (static_cast<unsigned char>(s.back()) & 0x80)) s.pop_back();
  return s;
}

std::array<size_t, 3> ParseRanks(const std::string& s) {
  std::array<size_t, 3> r{0, 0, 0};
  if (s.empty()) return r;
  std::stringstream in(s);
  std::string part;
  size_t n = 0;
  while (std::getline(in, part, ',')) {
    if (n >= 3 || part.empty() || part.find_first_not_of("0123456789") != std::string::npos ||
        part.size() > 6) {
      throw Error("--tucker-ranks", "'" + s + "' is not TOKENS,HEADS,DIM (non-negative integers, 0 = half)");
    }
    r[n++] = std::stoul(part);
  }
  if (n != 3) throw Error("--tucker-ranks", "'" + s + "' is not TOKENS,HEADS,DIM (three numbers)");
  return r;
}

void Run(const AnalyzeArgs& a) {
  std::vector<std::string> modes;
  for (const std::string& m : a.modes) {
    if (m == "all") {
      for (const auto& info : analysis::AnalysisModes()) modes.push_back(info.name);
    } else {
      modes.push_back(analysis::FindAnalysisMode(m).name);  // unknown: one-line error before any work
    }
  }
  analysis::AnalysisOptions options;
  options.tucker_ranks = ParseRanks(a.tucker_ranks);
  options.hooi_iterations = a.hooi_iterations;
  options.prune_layers = a.prune_layers;
  options.prune_heads = a.prune_heads;
  options.keep_dims = a.keep_dims;
  options.prompt_tokens = a.prompt_tokens;
  const std::string text = ReadTextPrefix(a.text, static_cast<size_t>(a.max_tokens) * 16 + 64);

  const std::filesystem::path model_path = ResolveModelPath(a.model.model);
  auto model = LoadModelFromOptions(a.model);
  auto tokenizer = LoadTokenizerFromOptions(*model, a.model);
  std::vector<int32_t> ids = tokenizer->Encode(
      text, EncodeOptions{.add_special = tokenizer->add_bos_default(), .parse_special = a.model.parse_special});
  const size_t limit = std::min<size_t>(static_cast<size_t>(a.max_tokens), model->config().max_seq_len);
  if (ids.size() > limit) ids.resize(limit);
  if (options.tucker_ranks[0] > ids.size()) {
    throw Error("--tucker-ranks", "token rank " + std::to_string(options.tucker_ranks[0]) + " exceeds the " +
                                      std::to_string(ids.size()) + " tokens analysed");
  }

  analysis::AnalysisContext context;
  context.model = model.get();
  context.model_path = model_path;
  context.tokenizer = tokenizer.get();
  context.ids = ids;
  context.options = options;
  for (const std::string& mode : modes) {
    analysis::AnalysisOutput out = analysis::RunAnalysis(mode, context);
    out.json["model"] = a.model.model;
    out.json["text"] = a.text;
    analysis::WriteAnalysisOutput(a.out, mode, out);
    std::fprintf(stderr, "[kvlab] %s: %zu tokens -> %s/%s.json, %s.csv\n", mode.c_str(), ids.size(),
                 a.out.c_str(), mode.c_str(), mode.c_str());
  }
  if (a.plot) {
    const std::filesystem::path report_dir = std::filesystem::path(a.out) / "report";
    RunReport({}, {a.out}, report_dir);
    std::fprintf(stderr, "[kvlab] plots -> %s/index.html\n", report_dir.c_str());
  }
}
}  // namespace

void AddAnalyzeCommand(CLI::App& app) {
  auto args = std::make_shared<AnalyzeArgs>();
  CLI::App* cmd = app.add_subcommand("analyze", "analyse the KV cache and attention of a model on a text");
  AddModelOptions(cmd, args->model);
  cmd->add_option("--text", args->text, "text to run (its first --max-tokens tokens): a file, a name under $KVLAB_ASSETS/text, or a "
                  "WikiText article (wikitext-2:3)")->required();
  std::string mode_help = "analysis mode, repeatable, or 'all':";
  for (const auto& m : analysis::AnalysisModes()) mode_help += std::string(" ") + m.name;
  cmd->add_option("--mode", args->modes, mode_help)->required();
  cmd->add_option("-o,--out", args->out, "output directory for <mode>.json and <mode>.csv")
      ->capture_default_str();
  cmd->add_option("--max-tokens", args->max_tokens, "tokens of the text to analyse")
      ->capture_default_str()
      ->check(CLI::Range(2, 1 << 20));
  cmd->add_option("--tucker-ranks", args->tucker_ranks,
                  "tucker: ranks TOKENS,HEADS,DIM (0 = half of that mode; default all half)");
  cmd->add_option("--hooi-iters", args->hooi_iterations,
                  "tucker: HOOI refinement sweeps after HOSVD (0 = HOSVD only)")
      ->capture_default_str()
      ->check(CLI::Range(0, 100));
  cmd->add_option("--prune-layers", args->prune_layers, "prune: layers to remove, e.g. 0,1");
  cmd->add_option("--prune-heads", args->prune_heads,
                  "prune: KV heads to remove as LAYER:KV_HEAD, e.g. 2:3,4:0");
  cmd->add_option("--keep-dims", args->keep_dims, "compress-dims: dimensions kept per head (0 = head_dim/2)")
      ->capture_default_str();
  cmd->add_option("--prompt-tokens", args->prompt_tokens, "generation: prompt tokens taken from the text")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  cmd->add_flag("--plot", args->plot,
                "also draw the plots (OUT/report/index.html; needs python3-matplotlib)");
  cmd->callback([args] { Run(*args); });
}

}  // namespace kvlab::cli
