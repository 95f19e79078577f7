// ModelFormat: which kind of file a model came from. The model loaders set it (model/weights.h LoadedModel);
// the tokenizer factory reads it to know where a model keeps its vocabulary (tokenizer/tokenizer.h).
#pragma once

#include <cstdint>

namespace kvlab {

enum class ModelFormat : uint8_t { kSafetensors, kGguf, kLlama2c };

// "safetensors", "gguf", "llama2c".
const char* ModelFormatName(ModelFormat f);

}  // namespace kvlab
