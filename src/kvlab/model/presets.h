// Named model shapes for `kvlab init` (random-weight checkpoints): the real models kvlab studies, at their
// real sizes, plus tiny ones for fast tests. Shapes only; weights come from random_model.h.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "kvlab/model/config.h"

namespace kvlab {

struct ModelPreset {
  std::string name;         // "llama-110m"
  std::string description;  // one line for `kvlab init --list`
  ModelConfig config;
};

// All presets, in the order `--list` shows them.
const std::vector<ModelPreset>& ModelPresets();

// Throws kvlab::Error("--preset", "unknown preset NAME", hint listing the names).
const ModelPreset& FindModelPreset(std::string_view name);

}  // namespace kvlab
