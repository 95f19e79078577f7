// kvlab tasks: a needle-in-a-haystack grid on recall-char (a model that retrieves) and a RULER task on a
// TinyStories model (plumbing), text and JSON output, both compression modes, and bad input as one line.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>

#include "test_assets.h"

namespace kvlab::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string RecallArgs() {
  const fs::path m = AssetsDir() / "models" / "recall-char";
  return "-m " + Quote(m / "recall.bin") + " --tokenizer " + Quote(m / "tokenizer.bin") + " --task-file " +
         Quote(fs::path(KVLAB_SOURCE_DIR) / "configs" / "tasks" / "recall-char.toml") + " -t 1";
}

TEST(TasksCli, HelpAndList) {
  const CommandResult help = RunKvlab("tasks --help");
  ASSERT_EQ(help.exit_code, 0) << help.err;
  for (const char* flag :
       {"--task", "--lengths", "--depths", "--kv", "--compress", "--question", "--chat", "--json"})
    EXPECT_NE(help.out.find(flag), std::string::npos) << flag;
  const CommandResult list =
      RunKvlab("tasks --list --task-file " +
               Quote(fs::path(KVLAB_SOURCE_DIR) / "configs" / "tasks" / "recall-char.toml"));
  ASSERT_EQ(list.exit_code, 0) << list.err;
  for (const char* task : {"niah_single_1", "niah_multikey_3", "niah_multivalue", "niah_multiquery",
                           "passkey", "vt", "cwe", "fwe", "recall_char"})
    EXPECT_NE(list.out.find(task), std::string::npos) << task << "\n" << list.out;
}

TEST(TasksCli, RecallCharGridShowsWhatCompressionBreaks) {
  KVLAB_REQUIRE_ASSETS();
  const fs::path dir = TempDir("tasks_cli");
  const fs::path out = dir / "grid.json";
  const std::string args = RecallArgs() +
                           " --task recall_char --lengths 64,128 --depths 0,1 --samples 4 "
                           "--kv full --kv window:budget=24";
  const CommandResult r = RunKvlab("tasks " + args + " --json " + Quote(out));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("depth \\ length"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("kv window:budget=24"), std::string::npos) << r.out;
  const json j = ReadJson(out);
  EXPECT_EQ(j["command"], "tasks");
  EXPECT_EQ(j["compress"], "stream");
  ASSERT_EQ(j["runs"].size(), 2u);
  const json& full = j["runs"][0]["cells"];
  const json& window = j["runs"][1]["cells"];
  ASSERT_EQ(full.size(), 4u);  // 2 lengths x 2 depths
  for (size_t i = 0; i < full.size(); ++i) {
    EXPECT_DOUBLE_EQ(full[i]["retention"].get<double>(), 1.0);
    EXPECT_EQ(full[i]["samples"], 4);
    ASSERT_EQ(full[i]["samples_detail"].size(), 4u);
    const json& s = full[i]["samples_detail"][0];
    EXPECT_LE(s["prompt_tokens"].get<int>() + 4, full[i]["length"].get<int>());
    EXPECT_EQ(s["answers"].size(), 1u);
    EXPECT_EQ(s["retention_by_head"].size(), 4u);  // layers
    EXPECT_LE(window[i]["kv_bytes"].get<double>(), full[i]["kv_bytes"].get<double>());
  }
  // Cells are length-major: [64/0, 64/1, 128/0, 128/1]. At 128 a needle at depth 0 is ~100 tokens back,
  // out of a 24-slot window; at depth 1 it sits right before the question, inside it.
  EXPECT_EQ(full[2]["length"], 128);
  EXPECT_DOUBLE_EQ(window[2]["retention"].get<double>(), 0.0);
  EXPECT_DOUBLE_EQ(window[2]["accuracy"].get<double>(), 0.0);
  EXPECT_DOUBLE_EQ(window[3]["retention"].get<double>(), 1.0);
  EXPECT_GT(full[2]["accuracy"].get<double>(), 0.0);

  // kvlab report reads the grid as it reads a sweep with [tasks]: the needle-in-a-haystack heatmaps.
  const CommandResult report = RunKvlab("report " + Quote(out) + " -o " + Quote(dir / "report"));
  ASSERT_EQ(report.exit_code, 0) << report.err;
  for (const char* png : {"tasks_heatmap_accuracy_recall_char.png", "tasks_heatmap_retention_recall_char.png",
                          "tasks_vs_budget.png", "tasks_vs_kv_bytes.png"})
    EXPECT_TRUE(fs::exists(dir / "report" / png)) << png;

  // The same grid compressed once after the context, query-aware: runs and says so.
  const CommandResult once = RunKvlab("tasks " + args + " --compress once --question both --json");
  ASSERT_EQ(once.exit_code, 0) << once.err;
  const json jo = json::parse(once.out);
  EXPECT_EQ(jo["compress"], "once");
  EXPECT_EQ(jo["question"], "both");
  EXPECT_DOUBLE_EQ(jo["runs"][0]["cells"][0]["retention"].get<double>(), 1.0);
}

// A needle right before the question can share a BPE token with it (tinystories-656k's tokenizer.json
// merges "." and "\n"): that token is not in the cache when the question begins, and the full cache still
// holds all of the needle.
TEST(TasksCli, RulerTaskOnTinyStoriesIsPlumbing) {
  KVLAB_REQUIRE_ASSETS();
  const CommandResult r = RunKvlab(
      "tasks -m tinystories-656k -t 1 --task niah_single_2,fwe --lengths 512 --depths 0,1 --samples 2 "
      "--kv full --kv h2o:budget=64,recent=8 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  ASSERT_EQ(j["runs"].size(), 4u);  // per policy, per task
  EXPECT_EQ(j["kv"].size(), 2u);
  const json& full = j["runs"][0];
  EXPECT_EQ(full["task"], "niah_single_2");
  for (const json& cell : full["cells"])
    EXPECT_DOUBLE_EQ(cell["retention"].get<double>(), 1.0) << cell.dump();
  const json& h2o = j["runs"][2]["cells"][0];
  EXPECT_LT(h2o["retention"].get<double>(), 1.0);
  EXPECT_LT(h2o["kv_bytes"].get<double>(), full["cells"][0]["kv_bytes"].get<double>());
  const json& fwe = j["runs"][1]["cells"][0];
  EXPECT_EQ(fwe["task"], "fwe");
  EXPECT_TRUE(fwe["depth"].is_null());
  EXPECT_TRUE(fwe["retention"].is_null());
  EXPECT_EQ(fwe["samples_detail"][0]["answers"].size(), 3u);
}

TEST(TasksCli, BadInputIsOneLine) {
  KVLAB_REQUIRE_ASSETS();
  const std::string recall = RecallArgs();
  struct Case {
    std::string args, message;
  };
  for (const Case& c : std::vector<Case>{
           {"--task no_such_task", "--task: unknown task 'no_such_task'"},
           {"", "--task: no task given"},
           {"--task recall_char --compress later", "--compress: 'later' is not stream or once"},
           {"--task recall_char --question first", "--question: 'first' is not after or both"},
           {"--task recall_char --lengths 4096",
            "--lengths: 4096 is beyond the model's trained context of 128"},
           {"--task recall_char --lengths 128 --depths 1.5", "--depths: 1.5"},
           {"--task recall_char --lengths 128 --samples 0", "--samples: must be at least 1"},
           {"--task recall_char --lengths 6", "task recall_char: length 6"},
           {"--task recall_char --kv h2o:budget=8,recnt=2", "h2o: unknown key 'recnt'"},
           {"--task recall_char --parse-special", "--parse-special"},
           {"--task recall_char --chat-template x.jinja", "--chat-template: only applies with --chat"},
       }) {
    const CommandResult r = RunKvlab("tasks " + recall + " " + c.args);
    EXPECT_EQ(r.exit_code, 1) << c.args;
    EXPECT_EQ(r.err.rfind("kvlab: error: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << c.args << " -> " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  const CommandResult missing = RunKvlab("tasks --task recall_char --task-file /no/such/tasks.toml");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("/no/such/tasks.toml"), std::string::npos) << missing.err;
}

}  // namespace
}  // namespace kvlab::test

namespace kvlab::test {
namespace {

// --chat on a model directory made as a user would (kvlab init --vocab-size + Qwen3's real tokenizer files):
// the prompt is the rendered conversation, the answer prefix after the generation prompt.
TEST(TasksCli, ChatWrapsThePromptInTheModelsTemplate) {
  KVLAB_REQUIRE_ASSETS();
  const fs::path d = TempDir("tasks-qwen3");
  const CommandResult init =
      RunKvlab("init --preset qwen3-tiny --vocab-size 151669 --dtype bf16 --force --out " + Quote(d));
  ASSERT_EQ(init.exit_code, 0) << init.err;
  for (const char* f : {"tokenizer.json", "tokenizer_config.json"})
    fs::copy_file(AssetsDir() / "tokenizers" / "qwen3" / f, d / f, fs::copy_options::overwrite_existing);
  const CommandResult r =
      RunKvlab("tasks -m " + Quote(d) +
               " -t 1 --chat --task passkey --lengths 128 --depths 0.5 --samples 1 --prompts --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json s = json::parse(r.out)["runs"][0]["cells"][0]["samples_detail"][0];
  const std::string prompt = s["prompt"];
  EXPECT_EQ(prompt.rfind("<|im_start|>user\n", 0), 0u) << prompt;
  const std::string tail = "<|im_start|>assistant\n The pass key is";
  ASSERT_GE(prompt.size(), tail.size());
  EXPECT_EQ(prompt.substr(prompt.size() - tail.size()), tail) << prompt;
  EXPECT_LE(s["prompt_tokens"].get<int>() + 16, 128);
  EXPECT_DOUBLE_EQ(s["retention"].get<double>(), 1.0);
}

}  // namespace
}  // namespace kvlab::test
