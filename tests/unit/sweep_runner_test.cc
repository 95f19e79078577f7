// Sweep runs with a fake evaluator: JSONL store (atomic append, partial-line recovery), resume without
// repeating points, identical final files for interrupted and uninterrupted runs, summaries and winners.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

#include "kvlab/sweep/grid.h"
#include "kvlab/sweep/results_store.h"
#include "kvlab/sweep/runner.h"
#include "kvlab/sweep/summary.h"
#include "kvlab/util/error.h"
#include "test_assets.h"

namespace kvlab {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string ReadText(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

struct Fixture {
  fs::path dir;
  SweepConfig config;
  std::vector<GridPoint> points;
  std::map<std::string, int> calls;  // spec -> evaluations

  explicit Fixture(const std::string& tag) : dir(test::TempDir(tag)) {
    std::ofstream(dir / "m.bin") << "x";
    std::ofstream(dir / "t.txt") << "x";
    const std::string toml =
        "[sweep]\nout = \"" + (dir / "out/r.jsonl").string() + "\"\n[data]\nmodels = \"" +
        (dir / "m.bin").string() + "\"\ntexts = \"" + (dir / "t.txt").string() +
        "\"\nctx = 512\n[[policy]]\nname = \"full\"\n[[policy]]\nname = \"h2o\"\n"
        "budget = [\"1/8\", \"1/4\"]\n[[policy]]\nname = \"window\"\nbudget = [\"1/8\", \"1/4\"]\n";
    config = ParseSweepConfigText(toml, "cfg.toml");
    points = ExpandGrid(config);
  }
  // Deterministic metrics from the spec; h2o beats window at every budget.
  PointEvaluator Evaluator() {
    return [this](const GridPoint& p) {
      ++calls[p.spec];
      const double budget = p.spec == "full" ? 512 : std::stod(p.spec.substr(p.spec.find('=') + 1));
      const double kl = p.spec == "full" ? 0.0 : (p.spec[0] == 'h' ? 1.0 : 2.0) / budget;
      return json{{"ppl", 4.0 + kl},         {"kl_mean", kl},
                  {"kv_bytes", budget * 10}, {"kv_bytes_full", 5120},
                  {"policy_bytes", 0},       {"decode_tok_s", 1000.0 + static_cast<double>(calls.size())}};
    };
  }
  SweepRunOptions Options(bool resume, int64_t stop_after = 0) {
    SweepRunOptions o;
    o.resume = resume;
    o.stop_after = stop_after;
    o.log = nullptr;
    o.run_info = [] { return json{{"git_rev", "abc"}, {"machine", "test"}, {"timestamp", "now"}}; };
    return o;
  }
};

// Rows without the fields that differ between runs of the same point.
std::vector<json> Stable(const fs::path& results) {
  std::vector<json> rows = LoadResults(results, false).rows;
  for (json& r : rows) {
    for (const std::string& k : VolatileRowFields()) r.erase(k);
  }
  return rows;
}

TEST(SweepStore, AppendsLinesAndRecoversFromAPartialLastLine) {
  const fs::path path = test::TempDir("sweep_store") / "sub" / "r.jsonl";
  {
    ResultsAppender a(path);  // creates the directory
    a.Append({{"id", "a"}, {"x", 1}});
    a.Append({{"id", "b"}, {"x", 2}});
  }
  EXPECT_EQ(ReadText(path), "{\"id\":\"a\",\"x\":1}\n{\"id\":\"b\",\"x\":2}\n");
  std::ofstream(path, std::ios::app) << "{\"id\":\"c\",\"x";  // a write cut by a kill
  LoadedResults r = LoadResults(path, /*repair=*/false);
  EXPECT_EQ(r.rows.size(), 2u);
  EXPECT_EQ(r.partial_bytes, 12u);
  EXPECT_NE(ReadText(path).find("\"c\""), std::string::npos);  // untouched without repair
  r = LoadResults(path, /*repair=*/true);
  EXPECT_EQ(r.rows.size(), 2u);
  EXPECT_EQ(ReadText(path), "{\"id\":\"a\",\"x\":1}\n{\"id\":\"b\",\"x\":2}\n");
  EXPECT_TRUE(LoadResults(path.string() + ".missing", true).rows.empty());
  std::ofstream(path, std::ios::app) << "not json\n";
  EXPECT_THROW(LoadResults(path, true), Error);
}

TEST(SweepStore, WriteFileAtomicallyReplacesWholeFiles) {
  const fs::path path = test::TempDir("sweep_atomic") / "f.txt";
  WriteFileAtomically(path, "one\n");
  WriteFileAtomically(path, "two\n");
  EXPECT_EQ(ReadText(path), "two\n");
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(path.parent_path())) files += e.is_regular_file();
  EXPECT_EQ(files, 1u);  // no temporary left behind
}

TEST(SweepRunner, RunsEveryPointAndWritesSummaries) {
  Fixture f("sweep_run");
  ASSERT_EQ(f.points.size(), 5u);
  const SweepOutcome r = RunSweep(f.config, f.points, f.Evaluator(), f.Options(false));
  EXPECT_TRUE(r.complete);
  EXPECT_EQ(r.ran, 5u);
  const std::vector<json> rows = LoadResults(f.config.out, false).rows;
  ASSERT_EQ(rows.size(), 5u);
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i]["id"], f.points[i].id);
    EXPECT_EQ(rows[i]["policy"], f.points[i].spec);
    EXPECT_EQ(rows[i]["schema"], 1);
    EXPECT_EQ(rows[i]["git_rev"], "abc");
    EXPECT_TRUE(rows[i].contains("wall_s"));
  }
  EXPECT_EQ(rows[1]["policy_name"], "h2o");
  EXPECT_EQ(rows[1]["budget"], 64);
  EXPECT_DOUBLE_EQ(rows[1]["kv_ratio"].get<double>(), 640.0 / 5120);
  EXPECT_TRUE(rows[0]["budget"].is_null());
  const std::string md = ReadText(SummaryPath(f.config.out, ".md"));
  EXPECT_NE(md.find("| `h2o:budget=64` | 64 | 1/8 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| 1/8 | `h2o:budget=64` |"), std::string::npos) << md;  // winner at 1/8
  const std::string csv = ReadText(SummaryPath(f.config.out, ".csv"));
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 6);
  EXPECT_EQ(csv.rfind("id,model,text,", 0), 0u);
}

TEST(SweepRunner, RefusesAnExistingFileWithoutResumeOrForce) {
  Fixture f("sweep_exists");
  RunSweep(f.config, f.points, f.Evaluator(), f.Options(false));
  try {
    RunSweep(f.config, f.points, f.Evaluator(), f.Options(false));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--resume"), std::string::npos) << e.what();
  }
  SweepRunOptions force = f.Options(false);
  force.force = true;
  const SweepOutcome r = RunSweep(f.config, f.points, f.Evaluator(), force);
  EXPECT_EQ(r.ran, 5u);
  EXPECT_EQ(LoadResults(f.config.out, false).rows.size(), 5u);
}

TEST(SweepRunner, InterruptedAndResumedEqualsUninterrupted) {
  Fixture whole("sweep_whole");
  RunSweep(whole.config, whole.points, whole.Evaluator(), whole.Options(false));

  Fixture parts("sweep_parts");
  SweepOutcome r =
      RunSweep(parts.config, parts.points, parts.Evaluator(), parts.Options(false, /*stop_after=*/2));
  EXPECT_FALSE(r.complete);
  EXPECT_EQ(LoadResults(parts.config.out, false).rows.size(), 2u);
  EXPECT_FALSE(fs::exists(SummaryPath(parts.config.out, ".md")));
  // A kill in the middle of the next append leaves half a line.
  std::ofstream(parts.config.out, std::ios::app) << "{\"id\":\"";
  r = RunSweep(parts.config, parts.points, parts.Evaluator(), parts.Options(true, 1));
  EXPECT_EQ(r.already_done, 2u);
  EXPECT_EQ(r.ran, 1u);
  r = RunSweep(parts.config, parts.points, parts.Evaluator(), parts.Options(true));
  EXPECT_TRUE(r.complete);
  EXPECT_EQ(r.already_done, 3u);
  EXPECT_EQ(r.ran, 2u);
  for (const auto& [spec, n] : parts.calls) EXPECT_EQ(n, 1) << spec << " evaluated twice";

  // Same points, same order, same deterministic fields; only timings may differ.
  std::vector<json> a = Stable(whole.config.out), b = Stable(parts.config.out);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    a[i].erase("model"), b[i].erase("model");  // the fixtures' temp paths differ
    a[i].erase("text"), b[i].erase("text");
    a[i].erase("id"), b[i].erase("id");
    EXPECT_EQ(a[i], b[i]) << i;
  }
  // Resuming a finished sweep runs nothing.
  r = RunSweep(parts.config, parts.points, parts.Evaluator(), parts.Options(true));
  EXPECT_EQ(r.ran, 0u);
  EXPECT_TRUE(r.complete);
}

TEST(SweepRunner, EvaluatorErrorsNameThePoint) {
  Fixture f("sweep_error");
  const PointEvaluator failing = [](const GridPoint& p) -> json {
    if (p.spec != "full") throw Error("text", "too short");
    return json{{"ppl", 1.0}};
  };
  try {
    RunSweep(f.config, f.points, failing, f.Options(false));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("policy[2]"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("h2o:budget=64"), std::string::npos) << e.what();
  }
  EXPECT_EQ(LoadResults(f.config.out, false).rows.size(), 1u);  // the finished point is kept
}

TEST(SweepSummary, WinnersLowestKlThenPpl) {
  std::vector<json> rows = {
      {{"model", "m"},
       {"text", "t"},
       {"policy", "a"},
       {"budget_fraction", 0.125},
       {"kl_mean", 0.2},
       {"ppl", 5.0}},
      {{"model", "m"},
       {"text", "t"},
       {"policy", "b"},
       {"budget_fraction", 0.125},
       {"kl_mean", 0.1},
       {"ppl", 6.0}},
      {{"model", "m"},
       {"text", "t"},
       {"policy", "c"},
       {"budget_fraction", 0.125},
       {"kl_mean", 0.1},
       {"ppl", 5.5}},
      {{"model", "m"},
       {"text", "t"},
       {"policy", "d"},
       {"budget_fraction", 0.5},
       {"kl_mean", 0.3},
       {"ppl", 5.0}},
      {{"model", "m"}, {"text", "t"}, {"policy", "full"}, {"budget_fraction", nullptr}, {"kl_mean", 0.0}}};
  const std::vector<Winner> w = FindWinners(rows);
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(w[0].policy, "c");
  EXPECT_EQ(w[0].candidates, 3u);
  EXPECT_EQ(w[1].policy, "d");
  const std::string csv = SummaryCsv({{{"policy", "h2o:budget=64,recent=8"}, {"ppl", 4.5}}});
  EXPECT_NE(csv.find(",\"h2o:budget=64,recent=8\","), std::string::npos) << csv;  // quoted
}

}  // namespace
}  // namespace kvlab
