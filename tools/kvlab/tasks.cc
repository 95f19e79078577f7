// kvlab tasks: a long-context retrieval grid (needle-in-a-haystack, passkey, RULER-style tasks) under one or
// more KV-cache policies, without a sweep file: accuracy and needle retention per (length, depth) cell
// (docs/TASKS.md).
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli_common.h"
#include "commands.h"
#include "eval_common.h"
#include "kvlab/kv/registry.h"
#include "kvlab/tasks/task_prompt.h"
#include "kvlab/tasks/task_runner.h"
#include "kvlab/tokenizer/model_chat_template.h"
#include "kvlab/util/error.h"

namespace kvlab::cli {

namespace {
struct TasksArgs {
  ModelOptions model;
  std::vector<std::string> tasks;
  std::string task_file;
  bool list = false;
  std::vector<int64_t> lengths;
  std::vector<double> depths = {0.0, 0.25, 0.5, 0.75, 1.0};
  int samples = 4;
  std::vector<std::string> kv = {"full"};
  std::string compress = "stream";
  std::string question = "after";
  bool chat = false;
  std::string chat_template_file;
  uint64_t seed = 1;
  bool beyond_context = false;
  int batch = 256;
  bool prompts = false;
  JsonOutput json;
};

std::string Bytes(double b) {
  char buf[32];
  if (b >= 1 << 20)
    std::snprintf(buf, sizeof(buf), "%.1f MiB", b / (1 << 20));
  else
    std::snprintf(buf, sizeof(buf), "%.1f KiB", b / 1024);
  return buf;
}

void ListTasks(const std::vector<TaskSpec>& defined) {
  std::printf("%-22s %-18s %s\n", "task", "source", "description");
  for (const TaskSpec& t : defined)
    std::printf("%-22s %-18s %s\n", t.name.c_str(), "task file", t.description.c_str());
  for (const TaskSpec& t : BuiltinTasks())
    std::printf("%-22s %-18s %s\n", t.name.c_str(), "built-in", t.description.c_str());
}

// One table per (policy, task): rows are depths, columns lengths, "accuracy (retention)".
void PrintTable(const std::string& spec, const TaskSpec& task, const std::vector<TaskCellResult>& cells,
                const TasksArgs& a) {
  std::printf("\nkv %s | task %s | compress %s | question %s | %d sample%s per cell\n", spec.c_str(),
              task.name.c_str(), a.compress.c_str(), a.question.c_str(), a.samples,
              a.samples == 1 ? "" : "s");
  const bool needles = !cells.empty() && cells.front().has_needles;
  std::printf("accuracy%s\n", needles ? " (needle retention)" : "");
  std::printf("%-14s", task.HasDepth() ? "depth \\ length" : "length");
  for (int64_t len : a.lengths) std::printf(" %14lld", static_cast<long long>(len));
  std::printf("\n");
  const std::vector<double> depths = task.HasDepth() ? a.depths : std::vector<double>{-1.0};
  double acc = 0, ret = 0, merged = 0, attn = 0, bytes = 0, full = 0;
  for (double d : depths) {
    if (d < 0)
      std::printf("%-14s", "");
    else
      std::printf("%13.0f%%", d * 100);
    for (int64_t len : a.lengths) {
      for (const TaskCellResult& c : cells) {
        if (c.length != len || c.depth != d) continue;
        char cell[40];
        if (needles)
          std::snprintf(cell, sizeof(cell), "%.2f (%.2f)", c.accuracy, c.retention);
        else
          std::snprintf(cell, sizeof(cell), "%.2f", c.accuracy);
        std::printf(" %14s", cell);
      }
    }
    std::printf("\n");
  }
  for (const TaskCellResult& c : cells) {
    acc += c.accuracy, ret += c.retention, merged += c.merged, attn += c.needle_attention;
    bytes += c.kv_bytes, full += c.kv_bytes_full;
  }
  const double n = cells.empty() ? 1.0 : static_cast<double>(cells.size());
  std::printf("mean accuracy %.3f", acc / n);
  if (needles)
    std::printf(" | retention %.3f | merged %.3f | needle attention %.3f", ret / n, merged / n, attn / n);
  std::printf(" | kv %s at the question (full cache %s)\n", Bytes(bytes / n).c_str(),
              Bytes(full / n).c_str());
}

void Run(const TasksArgs& a) {
  const std::vector<TaskSpec> defined =
      a.task_file.empty() ? std::vector<TaskSpec>{} : LoadTaskFile(a.task_file);
  if (a.list) {
    ListTasks(defined);
    return;
  }
  if (a.tasks.empty()) throw Error("--task", "no task given", "kvlab tasks --list shows them");
  std::vector<TaskSpec> tasks;
  for (const std::string& name : a.tasks) tasks.push_back(FindTask(name, defined, "--task"));
  if (a.model.parse_special)
    throw Error("--parse-special", "task prompts are generated text, never parsed for special tokens",
                "use --chat for an instruct model's template");
  if (a.compress != "stream" && a.compress != "once")
    throw Error("--compress", "'" + a.compress + "' is not stream or once");
  if (a.question != "after" && a.question != "both")
    throw Error("--question", "'" + a.question + "' is not after or both");
  if (!a.chat && !a.chat_template_file.empty()) throw Error("--chat-template", "only applies with --chat");
  std::vector<std::string> specs;
  for (const std::string& kv : a.kv)
    specs.push_back(MakePolicy(kv)->Spec());  // bad specs fail before loading

  auto model = LoadModelFromOptions(a.model);
  auto tokenizer = LoadTokenizerFromOptions(*model, a.model);
  const ModelConfig& c = model->config();
  TaskGridOptions grid;
  grid.lengths = a.lengths.empty() ? std::vector<int64_t>{c.max_seq_len} : a.lengths;
  grid.depths = a.depths;
  grid.samples = a.samples;
  grid.seed = a.seed;
  grid.beyond_context = a.beyond_context;
  grid.keep_prompts = a.prompts;
  grid.format.question_before = a.question == "both";
  grid.run.compress = a.compress == "once" ? CompressMode::kOnce : CompressMode::kStream;
  grid.run.prefill_batch = static_cast<size_t>(a.batch);
  std::unique_ptr<ChatTemplate> chat;
  if (a.chat) {
    const LoadedModel& m = model->loaded();
    chat = std::make_unique<ChatTemplate>(LoadModelChatTemplate({m.path, m.format, c.vocab_size}, *tokenizer,
                                                                a.model.tokenizer, a.chat_template_file));
    grid.format.chat = chat.get();
    grid.run.stop_tokens = EndOfTurnTokens(*tokenizer, *chat);
  }

  // Every task at every length once before any run, so a length too short for a task's prompt (or past the
  // context) fails before the first table rather than in the middle of the grid.
  for (const TaskSpec& task : tasks) {
    for (int64_t len : grid.lengths) {
      if (!grid.beyond_context && len > c.max_seq_len) continue;  // RunTaskGrid names the flag
      BuildTaskPrompt(task, len, 0.0, TaskSampleSeed(grid.seed, task.name, len, 0.0, 0), *tokenizer, grid.format);
    }
  }

  TasksArgs shown = a;
  shown.lengths = grid.lengths;
  nlohmann::json runs = nlohmann::json::array();
  if (!a.json.Requested() || (!a.json.path.empty() && a.json.path != "-"))
    std::printf("model %s | %d layers, %d kv heads, trained context %d\n", a.model.model.c_str(), c.n_layers,
                c.n_kv_heads, c.max_seq_len);
  for (const std::string& spec : specs) {
    for (const TaskSpec& task : tasks) {
      // Progress on stderr: a grid on a real model takes minutes.
      const auto progress = [&](const TaskCellResult& cell) {
        std::fprintf(stderr, "[kvlab] %s | %s | length %lld", spec.c_str(), task.name.c_str(),
                     static_cast<long long>(cell.length));
        if (cell.depth >= 0) std::fprintf(stderr, " depth %.0f%%", cell.depth * 100);
        std::fprintf(stderr, ": accuracy %.2f\n", cell.accuracy);
      };
      const std::vector<TaskCellResult> cells = RunTaskGrid(*model, *tokenizer, {task}, spec, grid, progress);
      nlohmann::json cj = nlohmann::json::array();
      for (const TaskCellResult& cell : cells) cj.push_back(CellJson(cell, /*with_samples=*/true));
      runs.push_back({{"kv", spec}, {"task", task.name}, {"cells", cj}});
      if (!a.json.Requested() || (!a.json.path.empty() && a.json.path != "-"))
        PrintTable(spec, task, cells, shown);
    }
  }
  if (a.json.Requested()) {
    nlohmann::json j = ResultRow(a.model.model, "", 0, "full");
    for (const char* k : {"text", "tokens_evaluated", "kv", "seed"}) j.erase(k);
    j["command"] = "tasks";
    j["kv"] = specs;  // each run's own spec is in runs[i].kv
    j["compress"] = a.compress;
    j["question"] = a.question;
    j["chat"] = a.chat;
    j["seed"] = a.seed;
    j["samples"] = a.samples;
    j["lengths"] = grid.lengths;
    j["depths"] = grid.depths;
    j["runs"] = runs;
    a.json.Write(j);
  }
}
}  // namespace

void AddTasksCommand(CLI::App& app) {
  auto args = std::make_shared<TasksArgs>();
  CLI::App* cmd = app.add_subcommand("tasks",
                                     "long-context retrieval tasks (needle-in-a-haystack, passkey, RULER) "
                                     "under KV policies (docs/TASKS.md)");
  AddModelOptions(cmd, args->model);
  cmd->add_option("--task", args->tasks, "task names, comma-separated (kvlab tasks --list)")->delimiter(',');
  cmd->add_option("--task-file", args->task_file,
                  "TOML file of [[task]] tables: new tasks or built-ins with other phrasing (docs/TASKS.md)");
  cmd->add_flag("--list", args->list, "list the built-in tasks (and those of --task-file) and exit");
  cmd->add_option(
         "--lengths", args->lengths,
         "context lengths in tokens, comma-separated: prompt + answer tokens (default: the model's trained "
         "context)")
      ->delimiter(',');
  cmd->add_option("--depths", args->depths,
                  "needle depths, fractions of the haystack in [0, 1], comma-separated")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--samples", args->samples, "prompts per (length, depth) cell")->capture_default_str();
  cmd->add_option("--kv", args->kv, "KV-cache policy spec (repeat for several; docs/POLICIES.md)")
      ->capture_default_str();
  cmd->add_option(
         "--compress", args->compress,
         "stream: the policy runs while the prompt streams in; once: the context is compressed once after "
         "its prefill, then the question and answer run uncompressed (kvpress)")
      ->capture_default_str();
  cmd->add_option("--question", args->question,
                  "after: the question follows the context only (query-agnostic); both: also before it "
                  "(query-aware)")
      ->capture_default_str();
  cmd->add_flag("--chat", args->chat, "wrap each prompt in the model's chat template (instruct models)");
  cmd->add_option("--chat-template", args->chat_template_file,
                  "with --chat: a Jinja template file to use instead");
  cmd->add_option("--seed", args->seed, "seed of every prompt (the same for every policy)")
      ->capture_default_str();
  cmd->add_flag("--beyond-context", args->beyond_context, "allow lengths past the model's trained context");
  cmd->add_option("--batch", args->batch, "with --compress stream: prompt tokens per forward chunk")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--prompts", args->prompts, "with --json: include every prompt's text in its sample");
  args->json.Add(cmd);
  cmd->callback([args] { Run(*args); });
}

}  // namespace kvlab::cli
