// kvlab sweep on stories260K: a tiny grid to completion, interrupted (--stop-after and a real SIGKILL) and
// resumed to the same results, bad configs failing before any work with one line and no results file.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "test_assets.h"

namespace kvlab::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Fields that differ between two runs of the same point (docs/SWEEP.md "Resuming").
const char* kVolatile[] = {
    "timestamp",           "wall_s",        "decode_tok_s", "prefill_tok_s", "decode_ms_per_token",
    "ms_per_token_by_ctx", "peak_rss_bytes"};

// Six points over 64 tokens: fast, and long enough per point that a kill lands mid-sweep.
std::string TinyConfig(const fs::path& out) {
  return "[sweep]\nout = \"" + out.string() + R"("
seed = 3
threads = 1
[data]
models = "stories260K"
texts = "tinystories_val.txt"
ctx = 64
tokens = 64
[metrics]
fidelity_warmup = 16
fidelity_stride = 8
speed_gen_tokens = 4
[[policy]]
name = "full"
[[policy]]
name = "window"
budget = "1/4"
[[policy]]
name = "h2o"
budget = ["1/4", "1/2"]
recent = 4
[[policy]]
name = "sketch"
type = ["cms", "race"]
width = 64
budget = "1/4"
)";
}

fs::path WriteConfig(const fs::path& dir, const std::string& name, const std::string& text) {
  const fs::path p = dir / name;
  std::ofstream(p) << text;
  return p;
}

std::vector<json> StableRows(const fs::path& results) {
  std::ifstream in(results);
  std::vector<json> rows;
  for (std::string line; std::getline(in, line);) {
    json row = json::parse(line);
    for (const char* k : kVolatile) row.erase(k);
    rows.push_back(row);
  }
  return rows;
}

size_t LineCount(const fs::path& p) {
  std::ifstream in(p);
  size_t n = 0;
  for (std::string line; std::getline(in, line);) ++n;
  return n;
}

TEST(SweepCli, RunsToCompletionWithRowsAndSummaries) {
  KVLAB_REQUIRE_ASSETS();
  const fs::path dir = TempDir("sweep_cli");
  const fs::path out = dir / "r.jsonl";
  const fs::path cfg = WriteConfig(dir, "c.toml", TinyConfig(out));
  const CommandResult r = RunKvlab("sweep '" + cfg.string() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<json> rows = StableRows(out);
  ASSERT_EQ(rows.size(), 6u);
  const json& full = rows[0];
  EXPECT_EQ(full["policy"], "full");
  EXPECT_EQ(full["model"], "stories260K");
  EXPECT_EQ(full["tokens"], 64);
  EXPECT_NEAR(full["kl_mean"].get<double>(), 0.0, 1e-12);  // the full cache against itself
  EXPECT_NEAR(full["retained_mass"].get<double>(), 1.0, 1e-6);
  for (const json& row : rows) {
    for (const char* k : {"id", "git_rev", "machine", "kvlab_version", "ppl", "kl_mean", "top1",
                          "retained_mass", "kv_bytes", "kv_ratio", "fidelity_layers"}) {
      EXPECT_TRUE(row.contains(k)) << k << " missing in " << row.dump();
    }
    EXPECT_GT(row["ppl"].get<double>(), 1.0);
  }
  EXPECT_EQ(rows[1]["budget"], 16);
  EXPECT_LT(rows[1]["kv_ratio"].get<double>(), 0.5);
  EXPECT_GT(rows[1]["kl_mean"].get<double>(), 0.0);
  EXPECT_EQ(rows[4]["sketch_type"], "cms");
  EXPECT_NE(r.out.find("Winners"), std::string::npos) << r.out;
  EXPECT_TRUE(fs::exists(dir / "r.md"));
  EXPECT_TRUE(fs::exists(dir / "r.csv"));
  const CommandResult s = RunKvlab("sweep --summarize '" + out.string() + "'");
  EXPECT_EQ(s.exit_code, 0) << s.err;
  EXPECT_EQ(s.out, r.out);

  // Running again without --resume refuses to touch the file; --resume runs nothing.
  const CommandResult again = RunKvlab("sweep '" + cfg.string() + "'");
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("--resume"), std::string::npos) << again.err;
  const CommandResult resumed = RunKvlab("sweep --resume '" + cfg.string() + "'");
  EXPECT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.err.find("0 run now, 6 resumed"), std::string::npos) << resumed.err;
  EXPECT_EQ(StableRows(out), rows);
}

TEST(SweepCli, InterruptedThenResumedEqualsUninterrupted) {
  KVLAB_REQUIRE_ASSETS();
  const fs::path dir = TempDir("sweep_cli_resume");
  const fs::path whole = dir / "whole.jsonl", stopped = dir / "stopped.jsonl", killed = dir / "killed.jsonl";
  const fs::path cfg = WriteConfig(dir, "c.toml", TinyConfig(whole));
  ASSERT_EQ(RunKvlab("sweep '" + cfg.string() + "'").exit_code, 0);
  const std::vector<json> expected = StableRows(whole);
  ASSERT_EQ(expected.size(), 6u);

  // A clean stop after 2 points, then resume.
  CommandResult r = RunKvlab("sweep --stop-after 2 --out '" + stopped.string() + "' '" + cfg.string() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(LineCount(stopped), 2u);
  EXPECT_FALSE(fs::exists(dir / "stopped.md"));  // summaries only for a finished sweep
  r = RunKvlab("sweep --resume --out '" + stopped.string() + "' '" + cfg.string() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("4 run now, 2 resumed"), std::string::npos) << r.err;
  EXPECT_EQ(StableRows(stopped), expected);

  // SIGKILL as soon as the first row is on disk, then resume.
  const std::string script = "'" + std::string(KVLAB_BINARY) + "' sweep --out '" + killed.string() + "' '" +
                             cfg.string() + "' >/dev/null 2>&1 & pid=$!; while [ ! -s '" + killed.string() +
                             "' ]; do sleep 0.005; done; kill -9 $pid; wait $pid";
  std::ofstream(dir / "kill.sh") << script << "\n";
  const int status = std::system(("sh '" + (dir / "kill.sh").string() + "'").c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 128 + 9) << "kvlab was not killed";
  const size_t rows_at_kill = LineCount(killed);
  EXPECT_GE(rows_at_kill, 1u);
  EXPECT_LT(rows_at_kill, 6u) << "the sweep finished before the kill";
  EXPECT_FALSE(fs::exists(dir / "killed.md"));
  r = RunKvlab("sweep --resume --out '" + killed.string() + "' '" + cfg.string() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(StableRows(killed), expected);
}

TEST(SweepCli, BadConfigsFailBeforeAnyWork) {
  KVLAB_REQUIRE_ASSETS();
  const fs::path dir = TempDir("sweep_cli_bad");
  const fs::path out = dir / "r.jsonl";
  const std::string good = TinyConfig(out);
  struct Case {
    std::string from, to, message;
  };
  const std::vector<Case> cases = {
      {"ctx = 64", "ctx = 64\nctxx = 3", "data.ctxx: unknown key"},
      {"budget = \"1/4\"", "budget = []", "policy[2].budget: is an empty list"},
      {"recent = 4", "recent = 4\nrecnt = 2", "recnt"},
      {"budget = \"1/4\"\n[[policy]]\nname = \"h2o\"", "budget = 80\n[[policy]]\nname = \"h2o\"",
       "budget 80 exceeds ctx 64"},
      {"\"stories260K\"", "\"no-such-model\"", "data.models: no-such-model"},
      {"\"tinystories_val.txt\"", "\"missing.txt\"", "data.texts: missing.txt: no such text file"},
      {"ctx = 64\ntokens = 64", "ctx = 1024\ntokens = 1024", "exceeds the trained context of stories260K"},
      {"speed_gen_tokens = 4", "speed_gen_tokens = 4\ngeneration = true\ngeneration_lengths = [64, 600]",
       "metrics.generation_lengths: 600 exceeds the trained context of stories260K (512)"},
      {"speed_gen_tokens = 4", "speed_gen_tokens = 4\ngeneration = true\ngeneration_prompts = 60000",
       "metrics.generation_prompts: stories260K: "},
  };
  for (const Case& c : cases) {
    std::string text = good;
    const size_t at = text.find(c.from);
    ASSERT_NE(at, std::string::npos) << c.from;
    text.replace(at, c.from.size(), c.to);
    const fs::path cfg = WriteConfig(dir, "bad.toml", text);
    const CommandResult r = RunKvlab("sweep '" + cfg.string() + "'");
    EXPECT_EQ(r.exit_code, 1) << c.message;
    EXPECT_EQ(r.err.rfind("kvlab: error: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_FALSE(fs::exists(out)) << c.message;
  }
  const CommandResult none = RunKvlab("sweep '" + (dir / "nope.toml").string() + "'");
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_NE(none.err.find("nope.toml: cannot read the sweep config"), std::string::npos) << none.err;
}

// A sweep with only [tasks]: every row carries the task fields and cells, the full cache holds every needle
// token, a small window does not hold a needle at depth 0, and the summary shows the task columns.
TEST(SweepCli, TasksSectionAddsTaskFieldsToEveryRow) {
  KVLAB_REQUIRE_ASSETS();
  const fs::path dir = TempDir("sweep_cli_tasks");
  const fs::path out = dir / "r.jsonl";
  const fs::path cfg = WriteConfig(dir, "c.toml", "[sweep]\nout = \"" + out.string() + R"("
threads = 1
[data]
models = "stories260K"
texts = "tinystories_val.txt"
ctx = 64
tokens = 64
[metrics]
quality = false
vs_full = false
fidelity = false
speed = false
[tasks]
names = ["passkey", "fwe"]
lengths = [512]
depths = [0, 1]
samples = 2
[[policy]]
name = "full"
[[policy]]
name = "window"
budget = 32
)");
  const CommandResult r = RunKvlab("sweep '" + cfg.string() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<json> rows = StableRows(out);
  ASSERT_EQ(rows.size(), 2u);
  for (const json& row : rows) {
    for (const char* k : {"task_accuracy", "task_retention", "task_merged", "task_needle_attention",
                          "task_kv_bytes", "task_kv_bytes_full", "task_cells"})
      EXPECT_TRUE(row.contains(k)) << k << " missing in " << row.dump();
    ASSERT_EQ(row["task_cells"].size(), 3u);  // passkey at two depths, fwe without one
    EXPECT_TRUE(row["task_cells"][2]["depth"].is_null());
    EXPECT_TRUE(row["task_cells"][2]["retention"].is_null());
    EXPECT_FALSE(row.contains("ppl"));
  }
  EXPECT_DOUBLE_EQ(rows[0]["task_retention"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(rows[1]["task_cells"][0]["retention"].get<double>(), 0.0);  // depth 0, 32-slot window
  EXPECT_LT(rows[1]["task_kv_bytes"].get<double>(), rows[0]["task_kv_bytes"].get<double>());
  EXPECT_NE(r.out.find("needle retention"), std::string::npos) << r.out;

  // A length the task cannot fit fails before any point runs.
  std::ifstream in(cfg);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  text.replace(text.find("lengths = [512]"), 15, "lengths = [8]");
  fs::remove(out);
  const CommandResult bad = RunKvlab("sweep '" + WriteConfig(dir, "bad.toml", text).string() + "'");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("tasks: stories260K"), std::string::npos) << bad.err;
  EXPECT_EQ(std::count(bad.err.begin(), bad.err.end(), '\n'), 1) << bad.err;
  EXPECT_FALSE(fs::exists(out));

  // chat = true on a model without a chat template fails before any point, naming the key.
  text.replace(text.find("lengths = [8]"), 13, "lengths = [512]\nchat = true");
  const CommandResult no_chat = RunKvlab("sweep '" + WriteConfig(dir, "chat.toml", text).string() + "'");
  EXPECT_EQ(no_chat.exit_code, 1);
  EXPECT_NE(no_chat.err.find("tasks.chat: "), std::string::npos) << no_chat.err;
  EXPECT_EQ(std::count(no_chat.err.begin(), no_chat.err.end(), '\n'), 1) << no_chat.err;
  EXPECT_FALSE(fs::exists(out));
}

}  // namespace
}  // namespace kvlab::test
