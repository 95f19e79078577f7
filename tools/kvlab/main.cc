// kvlab: command-line entry point. Subcommands live in one file each (see commands.h).
#include <cstdio>
#include <exception>

#include "commands.h"
#include "kvlab/util/error.h"

int main(int argc, char** argv) {
  CLI::App app{"kvlab: run transformer LMs on the CPU and study KV-cache compression"};
  app.set_version_flag("--version", std::string("kvlab ") + KVLAB_VERSION);
  app.require_subcommand(1);
  kvlab::cli::AddGenerateCommand(app);
  kvlab::cli::AddInspectCommand(app);
  kvlab::cli::AddInitCommand(app);
  kvlab::cli::AddBenchCommand(app);
  kvlab::cli::AddPplCommand(app);
  kvlab::cli::AddFidelityCommand(app);
  kvlab::cli::AddGenCompareCommand(app);
  kvlab::cli::AddSweepCommand(app);
  kvlab::cli::AddAnalyzeCommand(app);
  kvlab::cli::AddReportCommand(app);
  kvlab::cli::AddConvertCommand(app);
  kvlab::cli::AddTokenizeCommand(app);
  kvlab::cli::AddTasksCommand(app);
  kvlab::cli::AddTextsCommand(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help / --version print and exit 0; a bad flag or value is one line, like every other error.
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(e);
    std::fflush(stdout);
    std::fprintf(stderr, "kvlab: error: %s (see --help)\n", e.what());
    return e.get_exit_code();
  } catch (const kvlab::Error& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "kvlab: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "kvlab: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
