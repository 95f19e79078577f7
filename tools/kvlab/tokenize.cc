// kvlab tokenize: the token ids a model sees for a text (like llama.cpp's llama-tokenize), so a user can
// check what a tokenizer does with their prompt before trusting any number computed from it.
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli_common.h"
#include "commands.h"
#include "eval_common.h"
#include "kvlab/tokenizer/tokenizer.h"
#include "kvlab/util/assets.h"
#include "kvlab/util/error.h"
#include "kvlab/util/mapped_file.h"

namespace kvlab::cli {

namespace {
namespace fs = std::filesystem;

struct TokenizeArgs {
  std::string model = kDefaultModel;
  std::string tokenizer;
  std::string prompt;
  std::string file;
  bool specials = false;
  bool parse_special = false;
  JsonOutput json;
  CLI::Option* prompt_option = nullptr;
};

void Run(const TokenizeArgs& a) {
  const bool has_prompt = a.prompt_option->count() > 0;
  if (has_prompt == !a.file.empty()) throw Error("-p/--file", "give exactly one of -p TEXT and --file FILE");
  const std::string text = has_prompt ? a.prompt : ReadTextFile(a.file);
  const auto tokenizer = a.tokenizer.empty() ? TokenizerOfModel(a.model) : LoadTokenizerFile(a.tokenizer);
  const std::vector<int32_t> ids =
      tokenizer->Encode(text, EncodeOptions{.add_special = a.specials, .parse_special = a.parse_special});
  if (a.json.Requested()) {
    nlohmann::json j;
    j["tokenizer"] = tokenizer->Kind();
    j["vocab_size"] = tokenizer->vocab_size();
    j["add_special"] = a.specials;
    j["parse_special"] = a.parse_special;
    j["text_bytes"] = text.size();
    j["count"] = ids.size();
    j["ids"] = ids;
    nlohmann::json pieces = nlohmann::json::array();
    for (int32_t id : ids) pieces.push_back(std::string(tokenizer->Piece(id)));
    j["pieces"] = pieces;
    j["decoded"] = tokenizer->Decode(ids, DecodeOptions{.skip_special = false});
    a.json.Write(j);
    return;
  }
  std::string line;
  for (size_t i = 0; i < ids.size(); ++i) line += (i ? " " : "") + std::to_string(ids[i]);
  std::printf("%s\n", line.c_str());
}
}  // namespace

void AddTokenizeCommand(CLI::App& app) {
  auto args = std::make_shared<TokenizeArgs>();
  CLI::App* cmd =
      app.add_subcommand("tokenize", "print the token ids of a text (with --json: and the pieces)");
  cmd->add_option("-m,--model", args->model,
                  "model whose tokenizer to use (HF directory, .gguf, llama2.c .bin, or a name under "
                  "$KVLAB_ASSETS/models); its weights are not loaded")
      ->capture_default_str();
  cmd->add_option(
      "--tokenizer", args->tokenizer,
      "tokenizer file instead of a model's (tokenizer.json, tokenizer.bin, vocab.json, .gguf, or a "
      "directory holding one)");
  args->prompt_option = cmd->add_option("-p,--prompt", args->prompt, "text to tokenize");
  cmd->add_option("--file", args->file, "file whose whole contents to tokenize");
  cmd->add_flag("--specials", args->specials,
                "add what the vocabulary adds around a text (e.g. BOS), as generation and evaluation do");
  cmd->add_flag(
      "--parse-special", args->parse_special,
      "read special-token text (e.g. <|eot_id|>) as those tokens; without it such text is plain text");
  args->json.Add(cmd);
  cmd->callback([args] { Run(*args); });
}

}  // namespace kvlab::cli
