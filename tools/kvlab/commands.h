// One function per subcommand: each adds its CLI11 sub-app with options and a callback.
// Callbacks report bad input by throwing kvlab::Error; main() prints it as one line and exits 1.
#pragma once

#include <CLI/CLI.hpp>

namespace kvlab::cli {

void AddGenerateCommand(CLI::App& app);  // generate.cc
void AddInspectCommand(CLI::App& app);   // inspect.cc
void AddInitCommand(CLI::App& app);      // init.cc
void AddBenchCommand(CLI::App& app);     // bench.cc
void AddPplCommand(CLI::App& app);       // ppl.cc
void AddFidelityCommand(CLI::App& app);  // fidelity.cc
void AddGenCompareCommand(CLI::App& app);  // gen_compare.cc
void AddSweepCommand(CLI::App& app);     // sweep.cc
void AddAnalyzeCommand(CLI::App& app);   // analyze.cc
void AddReportCommand(CLI::App& app);    // report.cc
void AddConvertCommand(CLI::App& app);   // convert.cc
void AddTokenizeCommand(CLI::App& app);  // tokenize.cc
void AddTasksCommand(CLI::App& app);     // tasks.cc
void AddTextsCommand(CLI::App& app);     // texts.cc

}  // namespace kvlab::cli
