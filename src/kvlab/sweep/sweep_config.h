// SweepConfig: what `kvlab sweep CONFIG.toml` runs, read from TOML and checked before any work starts.
// The file format is documented in docs/SWEEP.md; configs/quick.toml and configs/full.toml are examples.
//
// Parsing checks only the shape of the file (known sections and keys, types, non-empty lists, budgets that
// parse); ExpandGrid (sweep/grid.h) checks what needs the context: specs MakePolicy accepts, budgets that
// fit, models and texts that exist.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "kvlab/tasks/task_spec.h"

namespace kvlab {

// One [[policy]] table: either literal specs (`spec = "..."` or a list of them) or a policy family
// (`name = "h2o"`) with keys whose values may be lists; the family's grid is the cartesian product.
struct PolicyGridEntry {
  std::string where;  // "CONFIG.toml:12: policy[3]" for messages
  std::string name;   // family name; empty for literal specs
  std::vector<std::string> literal_specs;
  // key -> its values as spec text, in file order ("budget" values stay raw: "1/8", "0.25", "64").
  std::vector<std::pair<std::string, std::vector<std::string>>> axes;
  // Each codec composes "+quant:k=C,v=C,..." after the policy; "f32" (or "none") means no quant part.
  std::vector<std::string> codecs = {"f32"};
  int64_t quant_group = 0;     // 0: quant's default
  int64_t quant_residual = 0;  // f32 residual window of the quant part
  bool skip_invalid = false;   // drop combinations MakePolicy rejects instead of failing
};

// The [tasks] section: a long-context retrieval grid run at every point (docs/TASKS.md, docs/SWEEP.md).
struct SweepTasks {
  bool enabled = false;            // the config has a [tasks] section
  std::vector<std::string> names;  // built-ins or tasks of `file`
  std::string file;                // optional task file (relative paths: to the working directory)
  uint64_t file_hash = 0;          // FNV-1a of the file's text, so an edited file makes new point ids
  std::vector<TaskSpec> specs;     // `names` resolved
  std::vector<int64_t> lengths;
  std::vector<double> depths = {0.0, 0.25, 0.5, 0.75, 1.0};
  int64_t samples = 4;
  std::string compress = "stream";  // stream | once (tasks/task_runner.h)
  std::string question = "after";   // after | both
  bool beyond_context = false;
  bool chat = false;  // wrap prompts in each model's chat template (instruct models)
};

struct SweepMetrics {
  bool quality = true;   // streaming ppl / NLL of the text under the policy
  bool vs_full = true;   // KL, top-1 agreement, ppl ratio against the full cache on the same stream
  bool fidelity = true;  // attention fidelity (retained mass, attention KL, ...) per layer
  std::vector<int64_t> fidelity_layers;  // empty: every layer
  int64_t fidelity_warmup = 64;          // first sampled query position
  int64_t fidelity_stride = 16;          // then every stride-th query position
  int64_t fidelity_tokens = 0;           // 0: = data.tokens
  bool speed = true;                     // decode / prefill tokens/s with the policy
  int64_t speed_gen_tokens = 32;         // timed decode steps
  int64_t speed_depth = 0;               // context before the timed decode steps; 0: = data.ctx
  int64_t speed_repetitions = 1;
  std::vector<int64_t> speed_depths;  // extra decode depths for ms_per_token_by_ctx (may be empty)
  // Greedy generation under the policy vs the full cache (eval/gen_compare.h) from the point's text:
  // generation_prompts consecutive windows of generation_prompt_tokens tokens (BOS first in each when the
  // vocabulary asks for one), each continued to every total length (prompt + generated tokens).
  bool generation = false;
  int64_t generation_prompt_tokens = 50;
  std::vector<int64_t> generation_lengths = {256, 512};
  int64_t generation_prompts = 1;
  SweepTasks tasks;
};

struct SweepConfig {
  std::filesystem::path source;  // the TOML file
  std::string mode;              // "" (base), "quick" or "full": the override table applied
  std::filesystem::path out;     // results JSONL (relative paths: to the working directory)
  uint64_t seed = 1;
  int64_t threads = 0;              // 0: all cores
  std::vector<std::string> models;  // names under $KVLAB_ASSETS/models or paths
  std::vector<std::string> texts;   // paths, or names under $KVLAB_ASSETS/text
  int64_t tokens = 512;             // tokens evaluated per run (BOS included)
  int64_t ctx = 512;                // context; fractional budgets are fractions of it
  SweepMetrics metrics;
  std::vector<PolicyGridEntry> policies;
};

// Reads and checks a config. mode: "" or "quick" / "full", whose table ([quick] / [full]) overrides the
// base sections key by key (and replaces the policy list if it has one). Throws kvlab::Error
// "FILE:LINE: KEY: what is wrong" on unknown sections or keys, wrong types, empty lists, bad budgets.
SweepConfig ParseSweepConfig(const std::filesystem::path& path, const std::string& mode = "");
// The same from text (`source` names it in messages); for tests.
SweepConfig ParseSweepConfigText(const std::string& toml, const std::filesystem::path& source,
                                 const std::string& mode = "");

// A budget as written in a config: an integer ≥ 1 (slots), a fraction "a/b" or a float in (0, 1) of the
// context. Returns slots (≥ 1) or throws kvlab::Error naming `where`.
int64_t ResolveBudget(const std::string& value, int64_t ctx, const std::string& where);

}  // namespace kvlab
