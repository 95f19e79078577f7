// kvlab init: writes a random-weight model of a named shape as a Hugging Face directory
// (config.json + model.safetensors), for benchmarks and tests at real model sizes without real weights.
#include <cstdio>
#include <map>
#include <string>

#include "commands.h"
#include "kvlab/model/presets.h"
#include "kvlab/model/random_model.h"
#include "kvlab/util/error.h"

namespace kvlab::cli {
namespace {

struct InitArgs {
  std::string preset;
  std::string out;
  std::string dtype = "f32";
  uint64_t seed = 0;
  bool force = false;
  bool list = false;
  int32_t vocab_size = 0;  // > 0: instead of the preset's (to pair the model with a real tokenizer)
};

const std::map<std::string, DType> kDTypes = {
    {"f32", DType::kF32}, {"f16", DType::kF16}, {"bf16", DType::kBF16}};

void ListPresets() {
  for (const ModelPreset& p : ModelPresets())
    std::printf("%-14s %s\n", p.name.c_str(), p.description.c_str());
}

void Run(const InitArgs& a) {
  if (a.list) {
    ListPresets();
    return;
  }
  if (a.preset.empty()) throw Error("--preset", "required", "see kvlab init --list");
  if (a.out.empty()) throw Error("--out", "required", "the directory to write the model into");
  const ModelPreset& preset = FindModelPreset(a.preset);
  ModelConfig config = preset.config;
  if (a.vocab_size > 0) {
    config.vocab_size = a.vocab_size;
    // Token ids the preset names must stay inside the new vocabulary.
    if (config.bos_id >= a.vocab_size) config.bos_id = -1;
    if (config.eos_id >= a.vocab_size) config.eos_id = -1;
  }
  RandomModelOptions o;
  o.dtype = kDTypes.at(a.dtype);  // CLI11 already restricted the choice
  o.seed = a.seed;
  InitRandomModelDir(config, a.out, o, a.force);
  std::printf("wrote %s (%s, %s, seed %llu) to %s\n", preset.name.c_str(), ArchName(preset.config.arch),
              a.dtype.c_str(), static_cast<unsigned long long>(a.seed), a.out.c_str());
}

}  // namespace

void AddInitCommand(CLI::App& app) {
  auto args = std::make_shared<InitArgs>();
  CLI::App* cmd = app.add_subcommand(
      "init", "write a random-weight model (Hugging Face config.json + model.safetensors) of a named shape");
  cmd->add_option("--preset", args->preset, "model shape (see --list)");
  cmd->add_option("--out", args->out, "output directory (created; must be empty unless --force)");
  cmd->add_option("--dtype", args->dtype, "weight dtype")
      ->check(CLI::IsMember({"f32", "f16", "bf16"}))
      ->capture_default_str();
  cmd->add_option("--seed", args->seed, "random seed (same seed, same weights)")->capture_default_str();
  cmd->add_flag("--force", args->force, "overwrite the model files in an existing non-empty directory");
  cmd->add_flag("--list", args->list, "list the presets and exit");
  cmd->add_option("--vocab-size", args->vocab_size,
                  "embedding rows instead of the preset's, e.g. a real tokenizer's size (then copy its "
                  "tokenizer.json and tokenizer_config.json into --out)")
      ->check(CLI::Range(1, 1 << 22));
  cmd->callback([args] { Run(*args); });
}

}  // namespace kvlab::cli
