// kvlab convert: a Hugging Face model directory -> one GGUF v3 file laid out as llama.cpp's
// convert_hf_to_gguf.py lays it out (model/convert_gguf.h).
#include <cstdio>
#include <memory>
#include <string>

#include "commands.h"
#include "kvlab/model/convert_gguf.h"
#include "kvlab/tokenizer/gguf_vocab_writer.h"
#include "kvlab/util/error.h"

namespace kvlab::cli {
namespace {

struct ConvertArgs {
  std::string input;
  std::string out;
  std::string type = "f32";
  std::string name;
  bool force = false;
};

void Run(const ConvertArgs& a) {
  GgufConvertOptions o;
  o.type = ParseGgufOutType(a.type, "--type");
  o.name = a.name;
  o.force = a.force;
  GgufVocabSummary vocab;
  o.write_vocab = [&](GgufWriter& w, int32_t vocab_size, int32_t bos_id, int32_t eos_id) {
    const auto written = WriteHfVocabToGguf(a.input, {vocab_size, bos_id, eos_id}, w);
    if (written) vocab = *written;
    return written.has_value();
  };
  const GgufConvertResult r = ConvertHfToGguf(a.input, a.out, o);
  std::printf("wrote %s: %s (general.architecture %s), %s, %zu tensors, %llu bytes\n", a.out.c_str(),
              ArchName(r.arch), r.architecture.c_str(), GgufOutTypeName(o.type), r.tensors,
              static_cast<unsigned long long>(r.bytes));
  if (r.vocabulary) {
    std::printf("vocabulary: tokenizer.ggml.model %s%s%s, %zu tokens%s\n", vocab.model.c_str(),
                vocab.pre.empty() ? "" : ", tokenizer.ggml.pre ", vocab.pre.c_str(), vocab.tokens,
                vocab.chat_template ? ", chat template" : "");
  }
}

}  // namespace

void AddConvertCommand(CLI::App& app) {
  auto args = std::make_shared<ConvertArgs>();
  CLI::App* cmd = app.add_subcommand(
      "convert",
      "convert a Hugging Face directory (Llama, Mistral, Qwen2/2.5, Qwen3, Gemma 2, Gemma 3, Phi-3, GPT-2) to a "
      "GGUF v3 file with llama.cpp's tensor names, Q/K order and metadata keys, and the directory's tokenizer.json "
      "as a GGUF vocabulary (byte-level BPE as \"gpt2\" with tokenizer.ggml.pre llama-bpe, qwen2 or gpt-2; "
      "byte-fallback BPE as \"llama\" with scores from the merge ranks) plus tokenizer_config.json's special "
      "tokens and chat template");
  cmd->add_option("input", args->input, "Hugging Face model directory (config.json + *.safetensors)")->required();
  cmd->add_option("-o,--out", args->out, "GGUF file to write (refused if it exists, unless --force)")->required();
  cmd->add_option("--type", args->type,
                  "type of the weight matrices: f32, f16, bf16 or q8_0 (norms and biases stay f32; q8_0 falls back "
                  "to f16 for rows that are not a multiple of 32)")
      ->capture_default_str();
  cmd->add_option("--name", args->name, "general.name (default: the directory's name)");
  cmd->add_flag("--force", args->force, "replace an existing output file");
  cmd->callback([args] { Run(*args); });
}

}  // namespace kvlab::cli
