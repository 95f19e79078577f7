// RunSweep: evaluates every grid point not yet in the results file, appending one row per point, and at
// the end rewrites the file in grid order and writes the summary tables next to it.
//
// The evaluator is injected (tests use a fake; `kvlab sweep` uses SweepEvaluator, sweep/evaluate_point.h).
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "kvlab/sweep/grid.h"
#include "kvlab/sweep/sweep_config.h"

namespace kvlab {

// Metric fields of one point (ppl, kl_mean, ..., decode_tok_s); may throw kvlab::Error.
using PointEvaluator = std::function<nlohmann::json(const GridPoint&)>;

// Row fields that differ between two runs of the same point (timings, time of day); everything else in a
// row is a deterministic function of the point, so an interrupted-and-resumed sweep and an uninterrupted
// one give the same file once these are removed.
const std::vector<std::string>& VolatileRowFields();

struct SweepRunOptions {
  bool resume = false;     // keep the rows already in the results file, run only the missing points
  bool force = false;      // delete an existing results file first
  int64_t stop_after = 0;  // > 0: stop after running this many points (an interruption, for tests)
  bool tty = false;        // progress bar instead of one line per point
  std::FILE* log = stderr;
  std::function<nlohmann::json()> run_info;  // git_rev, machine, timestamp, kvlab_version (may be empty)
};

struct SweepOutcome {
  size_t total = 0;                  // grid points
  size_t already_done = 0;           // found in the results file
  size_t ran = 0;                    // evaluated by this call
  bool complete = false;             // every point has a row (the file was rewritten in grid order)
  std::vector<nlohmann::json> rows;  // the final rows, grid order (complete runs only)
  double seconds = 0;
};

// Throws kvlab::Error naming the file when it exists, is not empty, and neither resume nor force is set.
void CheckResultsFile(const std::filesystem::path& out, bool resume, bool force);

// RESULTS.jsonl -> RESULTS.md / RESULTS.csv.
std::filesystem::path SummaryPath(const std::filesystem::path& results, const std::string& extension);
// Writes the Markdown and CSV summaries of `rows` next to `results`, atomically.
void WriteSummaries(const std::filesystem::path& results, const std::vector<nlohmann::json>& rows);

// The full row of a point: identity (schema, id, model, text, tokens, ctx, policy, DescribeSpec's fields,
// seed), run info, the evaluator's metrics, kv_ratio and wall_s.
nlohmann::json MakeRow(const GridPoint& point, const nlohmann::json& metrics, const nlohmann::json& run_info,
                       double wall_s);

SweepOutcome RunSweep(const SweepConfig& config, const std::vector<GridPoint>& points,
                      const PointEvaluator& evaluate, const SweepRunOptions& options);

}  // namespace kvlab
