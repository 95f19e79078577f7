// Hugging Face directory -> GGUF v3 file laid out as llama.cpp's convert_hf_to_gguf.py lays it out: the same
// tensor names, Q/K row order, metadata keys and tensor types (model/gguf_layout.h says which family gets
// which). A few keys are added where a checkpoint departs from what llama.cpp hard-codes for its family
// (Gemma's query scale, sliding pattern and local RoPE base; Mistral's sliding window): llama.cpp ignores
// them, kvlab's GGUF loader reads them, so the file runs in kvlab exactly as the checkpoint does.
//
// The vocabulary is written by a GgufConvertOptions::write_vocab hook: tokenizer/ knows tokenizer.json, and
// model/ may not include it, so the caller (kvlab convert) hands tokenizer/gguf_vocab_writer.h's writer in.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "kvlab/io/gguf_writer.h"
#include "kvlab/model/config.h"

namespace kvlab {

// The type of the weight matrices (--type). Norms, biases and RoPE tables stay F32, as llama.cpp keeps them;
// with q8_0, a matrix whose rows are not a multiple of 32 values falls back to F16, as llama.cpp's does.
enum class GgufOutType : uint8_t { kF32, kF16, kBF16, kQ8_0 };
// "f32", "f16", "bf16", "q8_0"; Parse throws kvlab::Error naming `what` (e.g. "--type").
const char* GgufOutTypeName(GgufOutType t);
GgufOutType ParseGgufOutType(const std::string& s, const std::string& what);

// Adds the directory's tokenizer.* keys to `w`, given the model's embedding rows and config.json's bos/eos
// ids; false when the directory has no vocabulary (then only those ids are written, by the converter).
using GgufVocabHook = std::function<bool(GgufWriter& w, int32_t vocab_size, int32_t bos_id, int32_t eos_id)>;

struct GgufConvertOptions {
  GgufOutType type = GgufOutType::kF32;
  GgufVocabHook write_vocab;  // empty: no vocabulary
  std::string name;    // general.name; empty: the directory's name
  bool force = false;  // replace an existing output file
};

struct GgufConvertResult {
  Arch arch = Arch::kLlama;
  std::string architecture;  // general.architecture written
  size_t tensors = 0;
  uint64_t bytes = 0;            // size of the written file
  bool vocabulary = false;          // write_vocab wrote the tokenizer.* keys
};

// Converts `hf_dir` to `out`, atomically (a failed conversion leaves no file, and an existing `out` is
// untouched unless options.force). Throws kvlab::Error with a one-line message naming the input, the output
// or the feature llama.cpp's layout cannot hold.
GgufConvertResult ConvertHfToGguf(const std::filesystem::path& hf_dir, const std::filesystem::path& out,
                                  const GgufConvertOptions& options = {});

}  // namespace kvlab
