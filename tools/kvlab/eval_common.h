// Shared pieces of the evaluation subcommands (ppl, fidelity, gen-compare): their inputs and result rows
// (from the library, eval/text_input.h and eval/run_info.h) and writing JSON output atomically.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "kvlab/eval/run_info.h"
#include "kvlab/eval/text_input.h"

namespace kvlab::cli {

// `--json [FILE]`: "-" or no value prints to stdout; a path is written through a temporary file and renamed,
// so a failed run never leaves half a file.
struct JsonOutput {
  std::string path;
  CLI::Option* option = nullptr;
  bool Requested() const { return option != nullptr && option->count() > 0; }
  void Add(CLI::App* cmd);
  void Write(const nlohmann::json& j) const;
};

}  // namespace kvlab::cli
