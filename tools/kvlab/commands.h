// One function per subcommand: each adds its CLI11 sub-app with options and a callback.
// Callbacks report bad input by throwing kvlab::Error; main() prints it as one line and exits 1.
#pragma once

#include <CLI/CLI.hpp>

namespace kvlab::cli {

void AddGenerateCommand(CLI::App& app);  // generate.cc
void AddInspectCommand(CLI::App& app);   // inspect.cc
void AddInitCommand(CLI::App& app);      // init.cc
void AddBenchCommand(CLI::App& app);     // bench.cc

}  // namespace kvlab::cli
