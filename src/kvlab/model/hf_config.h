// Hugging Face config.json <-> ModelConfig, for the families kvlab runs: Llama, Mistral, Qwen2/2.5, Qwen3,
// Gemma 2, Gemma 3 (text) and Phi-3 decoders, and GPT2LMHeadModel.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "kvlab/model/config.h"

namespace kvlab {

// Reads and parses a config.json. Throws kvlab::Error naming the file and, where there is one, the field:
// malformed JSON, unknown architecture, a missing required field, a field of the wrong type, or a feature
// kvlab does not implement (dynamic NTK rope_scaling, attention biases outside Qwen2, MLP biases, an unknown
// activation).
ModelConfig ReadHfConfig(const std::filesystem::path& config_json);

// Same, from text already in memory; `source` names it in errors.
ModelConfig ParseHfConfig(std::string_view json_text, const std::string& source);

// config.json text for `c` (what `kvlab init` writes), in the family's own fields (rope_scaling,
// sliding_window and the family's layer rule, layer_types only where that rule cannot say it, Gemma's scalars
// and caps); ParseHfConfig reads it back to the same ModelConfig. Throws kvlab::Error naming the ModelConfig
// field when the family's config.json cannot express it (a feature the family fixes, such as qkv_bias outside
// Qwen2, or sliding layers with different windows). `torch_dtype` is recorded for other tools ("float32",
// "float16", "bfloat16").
std::string HfConfigJson(const ModelConfig& c, std::string_view torch_dtype = "float32");

}  // namespace kvlab
