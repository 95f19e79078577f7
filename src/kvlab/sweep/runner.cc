#include "kvlab/sweep/runner.h"

#include <chrono>
#include <map>
#include <set>

#include "kvlab/sweep/progress.h"
#include "kvlab/sweep/results_store.h"
#include "kvlab/sweep/summary.h"
#include "kvlab/util/error.h"

namespace kvlab {

namespace fs = std::filesystem;
using nlohmann::json;

const std::vector<std::string>& VolatileRowFields() {
  static const std::vector<std::string> kFields = {
      "timestamp",           "wall_s",        "decode_tok_s", "prefill_tok_s", "decode_ms_per_token",
      "ms_per_token_by_ctx", "peak_rss_bytes"};
  return kFields;
}

void CheckResultsFile(const fs::path& out, bool resume, bool force) {
  if (resume && force)
    throw Error("--resume/--force", "pick one: continue the results file or start it over");
  std::error_code ec;
  if (fs::is_directory(out, ec)) throw Error(out.string(), "is a directory, not a results file");
  if (resume || force || !fs::exists(out, ec) || fs::file_size(out, ec) == 0) return;
  throw Error(out.string(), "results file already exists",
              "pass --resume to finish it without repeating its points, or --force to start over");
}

fs::path SummaryPath(const fs::path& results, const std::string& extension) {
  fs::path p = results;
  return p.replace_extension(extension);
}

void WriteSummaries(const fs::path& results, const std::vector<json>& rows) {
  WriteFileAtomically(SummaryPath(results, ".md"), SummaryMarkdown(rows));
  WriteFileAtomically(SummaryPath(results, ".csv"), SummaryCsv(rows));
}

json MakeRow(const GridPoint& p, const json& metrics, const json& run_info, double wall_s) {
  json row = DescribeSpec(p.spec, p.ctx);
  row["schema"] = 1;
  row["id"] = p.id;
  row["model"] = p.model;
  row["text"] = p.text;
  row["tokens"] = p.tokens;
  row["ctx"] = p.ctx;
  row["policy"] = p.spec;
  row["seed"] = p.seed;
  if (run_info.is_object()) {
    for (const auto& [k, v] : run_info.items()) row[k] = v;
  }
  for (const auto& [k, v] : metrics.items()) {
    KVLAB_CHECK(!row.contains(k));  // an evaluator reports metrics, not identity
    row[k] = v;
  }
  if (metrics.contains("kv_bytes") && metrics.contains("kv_bytes_full") && !metrics.contains("kv_ratio")) {
    const double full = metrics["kv_bytes_full"].get<double>();
    const double held = metrics["kv_bytes"].get<double>() + metrics.value("policy_bytes", 0.0);
    if (full > 0) row["kv_ratio"] = held / full;
  }
  row["wall_s"] = wall_s;
  return row;
}

SweepOutcome RunSweep(const SweepConfig& config, const std::vector<GridPoint>& points,
                      const PointEvaluator& evaluate, const SweepRunOptions& o) {
  const auto t_start = std::chrono::steady_clock::now();
  CheckResultsFile(config.out, o.resume, o.force);
  std::error_code ec;
  if (o.force) {
    fs::remove(config.out, ec);
    fs::remove(SummaryPath(config.out, ".md"), ec);
    fs::remove(SummaryPath(config.out, ".csv"), ec);
  }
  SweepOutcome outcome;
  outcome.total = points.size();

  // Rows already there (resume), by id; a row cut short by a kill is truncated away.
  std::map<std::string, json> done;
  std::vector<json> stale;  // rows whose point is not in this grid (the config changed): kept at the end
  {
    std::set<std::string> grid_ids;
    for (const GridPoint& p : points) grid_ids.insert(p.id);
    LoadedResults loaded = LoadResults(config.out, /*repair=*/true);
    if (loaded.partial_bytes > 0 && o.log != nullptr) {
      std::fprintf(o.log, "kvlab sweep: dropped a partial last line (%zu bytes) of %s\n",
                   loaded.partial_bytes, config.out.c_str());
    }
    for (json& row : loaded.rows) {
      const std::string id = row.value("id", "");
      if (grid_ids.count(id)) {
        done.emplace(id, std::move(row));
      } else {
        stale.push_back(std::move(row));
      }
    }
  }
  outcome.already_done = done.size();
  if (!stale.empty() && o.log != nullptr) {
    std::fprintf(
        o.log, "kvlab sweep: %zu rows of %s are not points of this grid (config changed?); kept at the end\n",
        stale.size(), config.out.c_str());
  }

  SweepProgress progress(points.size(), done.size(), o.tty, o.log);
  {
    ResultsAppender appender(config.out);
    for (const GridPoint& p : points) {
      if (done.count(p.id)) continue;
      if (o.stop_after > 0 && static_cast<int64_t>(outcome.ran) >= o.stop_after) break;
      progress.Started(p);
      const auto t0 = std::chrono::steady_clock::now();
      json metrics;
      try {
        metrics = evaluate(p);
      } catch (const Error& e) {
        progress.Close();
        throw Error(p.entry + ": " + p.model + " " + p.spec, e.what());
      }
      const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      json row = MakeRow(p, metrics, o.run_info ? o.run_info() : json::object(), wall);
      appender.Append(row);
      progress.Finished(p, row, wall);
      done.emplace(p.id, std::move(row));
      ++outcome.ran;
    }
  }
  progress.Close();
  outcome.complete = done.size() == points.size();
  if (outcome.complete) {
    // The final file lists rows in grid order, whatever order interruptions left them in.
    for (const GridPoint& p : points) outcome.rows.push_back(done.at(p.id));
    std::vector<json> all = outcome.rows;
    all.insert(all.end(), stale.begin(), stale.end());
    WriteFileAtomically(config.out, ToJsonLines(all));
    WriteSummaries(config.out, outcome.rows);
  }
  outcome.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
  return outcome;
}

}  // namespace kvlab
