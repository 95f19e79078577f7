// The per-format loaders behind LoadModel (load_model.cc picks one from the path).
// Each returns a complete LoadedModel whose config has passed ValidateConfig, or throws kvlab::Error.
#pragma once

#include <filesystem>

#include "kvlab/model/weights.h"

namespace kvlab {

// Hugging Face directory: config.json + model.safetensors or a sharded index (load_hf.cc).
// With options.weights other than f32, bf16/f16 matrices are viewed in place and q8_0 ones repacked to q8
// (LoadModel then converts whatever else the option asks for).
LoadedModel LoadHfModel(const std::filesystem::path& dir, const LoadOptions& options = {});

// GGUF file with general.architecture "llama" (load_gguf.cc).
LoadedModel LoadGgufModel(const std::filesystem::path& path, const LoadOptions& options = {});

// llama2.c: LoadLlama2cModel in model/load_llama2c.h.

}  // namespace kvlab
