#include "kvlab/io/model_format.h"

namespace kvlab {

const char* ModelFormatName(ModelFormat f) {
  switch (f) {
    case ModelFormat::kSafetensors:
      return "safetensors";
    case ModelFormat::kGguf:
      return "gguf";
    case ModelFormat::kLlama2c:
      return "llama2c";
  }
  return "?";
}

}  // namespace kvlab
