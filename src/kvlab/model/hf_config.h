// Hugging Face config.json <-> ModelConfig, for the two architectures kvlab runs:
//   LlamaForCausalLM (model_type "llama") and GPT2LMHeadModel (model_type "gpt2").
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "kvlab/model/config.h"

namespace kvlab {

// Reads and parses a config.json. Throws kvlab::Error naming the file and, where there is one, the field:
// malformed JSON, unknown architecture, a missing required field, a field of the wrong type, or a feature
// kvlab does not implement (rope_scaling, attention/MLP biases in Llama, an unknown activation).
ModelConfig ReadHfConfig(const std::filesystem::path& config_json);

// Same, from text already in memory; `source` names it in errors.
ModelConfig ParseHfConfig(std::string_view json_text, const std::string& source);

// config.json text for `c` (what `kvlab init` writes); ParseHfConfig reads it back to the same shape.
// `torch_dtype` is recorded for other tools ("float32", "float16", "bfloat16").
std::string HfConfigJson(const ModelConfig& c, std::string_view torch_dtype = "float32");

}  // namespace kvlab
