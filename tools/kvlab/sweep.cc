// kvlab sweep: runs a grid of (model × text × policy) configurations from a TOML file, one JSON line per
// finished point, resumable, with a summary table at the end (docs/SWEEP.md).
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "commands.h"
#include "kvlab/eval/run_info.h"
#include "kvlab/ops/threads.h"
#include "kvlab/sweep/evaluate_point.h"
#include "kvlab/sweep/grid.h"
#include "kvlab/sweep/results_store.h"
#include "kvlab/sweep/runner.h"
#include "kvlab/sweep/summary.h"
#include "kvlab/util/error.h"

namespace kvlab::cli {

namespace {
struct SweepArgs {
  std::string config;
  bool quick = false;
  bool full = false;
  bool resume = false;
  bool force = false;
  bool dry_run = false;
  std::string out;
  std::vector<std::string> models;  // instead of data.models
  std::string summarize;
  int64_t stop_after = 0;
  int threads = -1;
};

void Summarize(const std::string& path) {
  const LoadedResults r = LoadResults(path, /*repair=*/false);
  if (r.rows.empty()) throw Error(path, "has no result rows");
  std::printf("%s", SummaryMarkdown(r.rows).c_str());
}

void Run(const SweepArgs& a) {
  if (!a.summarize.empty()) {
    if (!a.config.empty()) throw Error("--summarize", "takes a results file instead of a config, not both");
    Summarize(a.summarize);
    return;
  }
  if (a.config.empty()) throw Error("sweep", "needs a CONFIG.toml (or --summarize RESULTS.jsonl)");
  // Everything that can be wrong with the config fails here, before any point runs.
  SweepConfig config = ParseSweepConfig(a.config, a.quick ? "quick" : a.full ? "full" : "");
  if (!a.out.empty()) config.out = a.out;
  if (!a.models.empty()) config.models = a.models;
  std::vector<std::string> notes;
  const std::vector<GridPoint> points = ExpandGrid(config, &notes);
  for (const std::string& n : notes) std::fprintf(stderr, "kvlab sweep: %s\n", n.c_str());
  if (a.dry_run) {
    for (const GridPoint& p : points)
      std::printf("%s %s %s %s\n", p.id.c_str(), p.model.c_str(), p.text.c_str(), p.spec.c_str());
    std::printf("%zu points\n", points.size());
    return;
  }
  CheckResultsFile(config.out, a.resume, a.force);
  SetNumThreads(a.threads >= 0 ? a.threads : static_cast<int>(config.threads));
  SweepEvaluator evaluator(config.metrics);
  evaluator.Preflight(points);
  std::fprintf(stderr, "kvlab sweep: %zu points (%zu models x %zu texts x %zu policies) -> %s\n",
               points.size(), config.models.size(), config.texts.size(),
               points.size() / (config.models.size() * config.texts.size()), config.out.c_str());

  SweepRunOptions o;
  o.resume = a.resume;
  o.force = a.force;
  o.stop_after = a.stop_after;
  o.tty = isatty(STDERR_FILENO) != 0;
  o.run_info = [] { return RunInfo(); };
  const SweepOutcome r = RunSweep(
      config, points, [&evaluator](const GridPoint& p) { return evaluator.Evaluate(p); }, o);
  if (!r.complete) {
    std::fprintf(stderr, "kvlab sweep: stopped after %zu points (%zu of %zu done); continue with --resume\n",
                 r.ran, r.already_done + r.ran, r.total);
    return;
  }
  std::printf("%s", SummaryMarkdown(r.rows).c_str());
  std::fprintf(stderr, "kvlab sweep: %zu points (%zu run now, %zu resumed) in %.1f s -> %s, %s, %s\n",
               r.total, r.ran, r.already_done, r.seconds, config.out.c_str(),
               SummaryPath(config.out, ".md").c_str(), SummaryPath(config.out, ".csv").c_str());
}
}  // namespace

void AddSweepCommand(CLI::App& app) {
  auto args = std::make_shared<SweepArgs>();
  CLI::App* cmd =
      app.add_subcommand("sweep", "run a grid of models x texts x KV policies from a TOML config");
  cmd->add_option("config", args->config, "sweep config (TOML; see docs/SWEEP.md, configs/quick.toml)");
  auto* quick = cmd->add_flag("--quick", args->quick, "apply the config's [quick] overrides");
  cmd->add_flag("--full", args->full, "apply the config's [full] overrides")->excludes(quick);
  cmd->add_flag("--resume", args->resume, "keep the rows already in the results file and run the rest");
  cmd->add_flag("--force", args->force, "delete an existing results file and start over");
  cmd->add_option("-o,--out", args->out, "results file (JSONL), instead of the config's sweep.out");
  cmd->add_option("-m,--model", args->models,
                  "a model (name under $KVLAB_ASSETS/models or path) instead of the config's data.models; "
                  "repeatable")
      ->allow_extra_args(false);
  cmd->add_option("--stop-after", args->stop_after, "stop after running N points (resume later)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--dry-run", args->dry_run,
                "check the config and list the grid's points without running them");
  cmd->add_option("--summarize", args->summarize, "print the summary of an existing results file and exit");
  cmd->add_option("-t,--threads", args->threads,
                  "threads (0: all cores; default: the config's sweep.threads)");
  cmd->callback([args] { Run(*args); });
}

}  // namespace kvlab::cli
