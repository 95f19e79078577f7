// Running task prompts under a KV policy: prefill, answer greedily, score, and measure what the cache kept
// of the needles (docs/TASKS.md).
//
// Two compression modes, both real:
//   kStream  the policy runs chunk by chunk while the prompt streams in and while the answer is decoded
//            (how every other kvlab evaluation runs a policy);
//   kOnce    the context (everything before the final question) is prefilled as one chunk, the policy
//            observes all of it and compresses once at its end; the question and the answer then run with
//            the cache frozen (it grows, nothing is evicted): kvpress's setting.
// The question comes after the context only (query-agnostic) or before and after it (query-aware,
// PromptFormat::question_before).
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "kvlab/model/model.h"
#include "kvlab/tasks/needle_retention.h"
#include "kvlab/tasks/task_prompt.h"
#include "kvlab/tokenizer/tokenizer.h"

namespace kvlab {

enum class CompressMode { kStream, kOnce };

struct TaskRunOptions {
  CompressMode compress = CompressMode::kStream;
  size_t prefill_batch = 256;        // kStream: tokens per forward chunk
  std::vector<int32_t> stop_tokens;  // besides EOS: ids that end the answer (a chat model's end of turn)
};

struct TaskSampleResult {
  std::string output;  // the decoded answer
  double score = 0;
  NeedleRetention retention;  // when the final question begins
  // Attention the prompt's last token puts on the asked-for needles' positions: a query head's mass on
  // them (a summary slot's mass goes to its founder), averaged over layers and query heads. 0 without
  // needles.
  double needle_attention = 0;
  int64_t kv_bytes = 0;       // KvCache::Bytes + policy metadata when the final question begins
  int64_t kv_bytes_end = 0;   // the same after the answer
  int64_t kv_bytes_full = 0;  // what an f32 full cache holds for the same tokens, when the question begins
  int64_t generated_tokens = 0;
  double prefill_ms = 0, decode_ms = 0;
};

// Runs one prompt under `kv_spec` ("full", "h2o:budget=64", ...). Throws kvlab::Error for a spec the model
// cannot run.
TaskSampleResult RunTaskSample(const Model& model, const Tokenizer& tokenizer, const TaskPrompt& prompt,
                               const std::string& kv_spec, const TaskRunOptions& options);

// A grid: tasks × lengths × depths (one depth for tasks without one) × samples, for one policy.
struct TaskGridOptions {
  std::vector<int64_t> lengths;
  std::vector<double> depths;  // fractions in [0, 1]
  int samples = 1;
  uint64_t seed = 1;
  PromptFormat format;
  TaskRunOptions run;
  bool beyond_context = false;  // allow lengths past the model's trained context
  bool keep_prompts = false;    // put each prompt's text in its sample object ("prompt")
  // Errors about the grid name the field as field_prefix + "lengths" / "depths" / "samples" ("--" for the
  // CLI's flags, "FILE: tasks." for a sweep config).
  std::string field_prefix = "--";
};

struct TaskCellResult {
  std::string task;
  int64_t length = 0;
  double depth = -1;  // -1: the task has no depth
  int samples = 0;
  bool has_needles = false;  // false for tasks without needles (cwe, fwe): retention is then not measured
  double accuracy = 0, retention = 0, merged = 0, needle_attention = 0;
  double kv_bytes = 0, kv_bytes_full = 0, prompt_tokens = 0;  // means over the samples
  std::vector<double> retention_by_layer;                     // [layers] mean held fraction
  std::vector<nlohmann::json> sample_rows;                    // one object per sample (docs/TASKS.md)
};

// Checks the grid before running (lengths within the trained context unless beyond_context, depths in
// [0, 1], samples ≥ 1), then runs every cell. on_cell is called after each cell (progress).
std::vector<TaskCellResult> RunTaskGrid(const Model& model, const Tokenizer& tokenizer,
                                        const std::vector<TaskSpec>& tasks, const std::string& kv_spec,
                                        const TaskGridOptions& options,
                                        const std::function<void(const TaskCellResult&)>& on_cell = {});

// A cell as JSON (docs/TASKS.md): task, length, depth (null without one), samples, accuracy, retention,
// merged, needle_attention (these three null without needles), kv_bytes, kv_bytes_full, prompt_tokens,
// retention_by_layer, and with `with_samples` the per-sample objects.
nlohmann::json CellJson(const TaskCellResult& cell, bool with_samples);

}  // namespace kvlab
