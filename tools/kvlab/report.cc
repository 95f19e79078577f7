// kvlab report: plots and one self-contained index.html from sweep results (JSONL) and analysis
// directories (kvlab analyze --out). Drawing is done by tools/report/kvlab_report.py with matplotlib.
#include <cstdio>

#include "commands.h"
#include "report_runner.h"

namespace kvlab::cli {

namespace {
struct ReportArgs {
  std::vector<std::string> results;
  std::vector<std::string> analysis;
  std::string out = "report";
};
}  // namespace

void AddReportCommand(CLI::App& app) {
  auto args = std::make_shared<ReportArgs>();
  CLI::App* cmd =
      app.add_subcommand("report", "draw plots and an index.html from sweep results and analyses");
  cmd->add_option("results", args->results,
                  "sweep results files (JSONL, one row per run), or kvlab tasks --json output");
  cmd->add_option("--analysis", args->analysis, "a kvlab analyze output directory (repeatable)");
  cmd->add_option("-o,--out", args->out, "output directory (PNG + SVG plots and index.html)")
      ->capture_default_str();
  cmd->callback([args] {
    RunReport(args->results, args->analysis, args->out);
    std::printf("%s/index.html\n", args->out.c_str());
  });
}

}  // namespace kvlab::cli
