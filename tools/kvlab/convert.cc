// kvlab convert: a Hugging Face model directory -> one GGUF v3 file laid out as llama.cpp's
// convert_hf_to_gguf.py lays it out (model/convert_gguf.h).
#include <cstdio>
#include <memory>
#include <string>

#include "commands.h"
#include "kvlab/model/convert_gguf.h"
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
  const GgufConvertResult r = ConvertHfToGguf(a.input, a.out, o);
  std::printf("wrote %s: %s (general.architecture %s), %s, %zu tensors, %llu bytes\n", a.out.c_str(),
              ArchName(r.arch), r.architecture.c_str(), GgufOutTypeName(o.type), r.tensors,
              static_cast<unsigned long long>(r.bytes));
  if (r.tokenizer_left_out) {
    std::printf("note: the directory's tokenizer.json was not written (no vocabulary in the GGUF)\n");
  }
}

}  // namespace

void AddConvertCommand(CLI::App& app) {
  auto args = std::make_shared<ConvertArgs>();
  CLI::App* cmd = app.add_subcommand(
      "convert",
      "convert a Hugging Face directory (Llama, Mistral, Qwen2/2.5, Qwen3, Gemma 2, Gemma 3, Phi-3, GPT-2) to a "
      "GGUF v3 file with llama.cpp's tensor names, Q/K order and metadata keys. The vocabulary is not written: "
      "a tokenizer.json in the directory is left out (token ids, bos and eos ids are kept)");
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
