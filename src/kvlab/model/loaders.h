// The per-format loaders behind LoadModel (load_model.cc picks one from the path).
// Each returns a complete LoadedModel whose config has passed ValidateConfig, or throws kvlab::Error.
#pragma once

#include <filesystem>

#include "kvlab/model/weights.h"

namespace kvlab {

// Hugging Face directory: config.json + model.safetensors or a sharded index (load_hf.cc).
LoadedModel LoadHfModel(const std::filesystem::path& dir);

// GGUF file with general.architecture "llama" (load_gguf.cc).
LoadedModel LoadGgufModel(const std::filesystem::path& path);

// llama2.c: LoadLlama2cModel in io/llama2c.h.

}  // namespace kvlab
