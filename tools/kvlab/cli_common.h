// Options and loading steps shared by the subcommands.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "kvlab/model/model.h"
#include "kvlab/tokenizer/tokenizer.h"

namespace kvlab::cli {

inline constexpr const char* kDefaultModel = "stories260K";

struct ModelOptions {
  std::string model = kDefaultModel;  // path or short name under $KVLAB_ASSETS/models
  std::string tokenizer;              // optional override
  int threads = 0;                    // 0: all cores
  std::string weights = "auto";       // --weights: auto (as stored) | f32 | bf16 | f16 | q8
  bool parse_special = false;         // --parse-special: special-token text in the input is that token
};

// Adds -m/--model, --tokenizer and --parse-special (if with_tokenizer), -t/--threads and --weights.
void AddModelOptions(CLI::App* cmd, ModelOptions& o, bool with_tokenizer = true);

// Resolves the name, loads the model and sets the thread count. Throws kvlab::Error on bad input.
std::unique_ptr<Model> LoadModelFromOptions(const ModelOptions& o);

// The model's own tokenizer, or the one --tokenizer names; refused if larger than the model's vocabulary.
std::unique_ptr<Tokenizer> LoadTokenizerFromOptions(const Model& model, const ModelOptions& o);

// The tokenizer of a model (a path or a name under $KVLAB_ASSETS/models) without loading its weights: the
// vocabulary sits in the GGUF file, in the Hugging Face directory, or next to a llama2.c checkpoint.
std::unique_ptr<Tokenizer> TokenizerOfModel(const std::string& model);

}  // namespace kvlab::cli
