#include "cli_common.h"

#include "kvlab/ops/threads.h"
#include "kvlab/util/assets.h"

namespace kvlab::cli {

void AddModelOptions(CLI::App* cmd, ModelOptions& o, bool with_tokenizer) {
  cmd->add_option("-m,--model", o.model,
                  "model path (HF directory, .gguf, llama2.c .bin) or a name under $KVLAB_ASSETS/models")
      ->capture_default_str();
  if (with_tokenizer) {
    cmd->add_option("--tokenizer", o.tokenizer,
                    "tokenizer file to use instead of the model's own (tokenizer.bin/.json, vocab.json, .gguf)");
    cmd->add_flag("--parse-special", o.parse_special,
                  "read special-token text in the input (e.g. <|eot_id|>) as those tokens; without it such text "
                  "is tokenized as plain text");
  }
  cmd->add_option("-t,--threads", o.threads, "threads (0: all cores)")->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--weights", o.weights,
                  "weight matrices in memory: auto (as the file stores them), f32, bf16, f16 or q8 (8-bit, converted "
                  "at load)")
      ->capture_default_str();
}

std::unique_ptr<Model> LoadModelFromOptions(const ModelOptions& o) {
  SetNumThreads(o.threads);
  LoadOptions load;
  load.weights = ParseWeightFormat(o.weights, "--weights");  // before loading: a typo fails fast
  return std::make_unique<Model>(LoadModel(ResolveModelPath(o.model), load));
}

std::unique_ptr<Tokenizer> TokenizerOfModel(const std::string& model) {
  namespace fs = std::filesystem;
  const fs::path path = ResolveModelPath(model);
  if (fs::is_directory(path) || path.extension() == ".gguf" || path.extension() == ".json") {
    return LoadTokenizerFile(path);
  }
  return LoadTokenizer({path, ModelFormat::kLlama2c, 0});
}

std::unique_ptr<Tokenizer> LoadTokenizerFromOptions(const Model& model, const ModelOptions& o) {
  const LoadedModel& m = model.loaded();
  return LoadTokenizer({m.path, m.format, m.config.vocab_size}, o.tokenizer);
}

}  // namespace kvlab::cli
