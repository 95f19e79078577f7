// Runs the plotting script (tools/report/kvlab_report.py) with Debian's /usr/bin/python3 and matplotlib,
// shared by `kvlab report` and `kvlab analyze --plot`.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace kvlab::cli {

// Where the script is: $KVLAB_REPORT_SCRIPT, else kvlab_report.py next to the binary, else
// <exe dir>/../share/kvlab/kvlab_report.py, else the source tree this binary was built from. The script
// imports kvlab_report_pareto.py (rows with bytes and quality) and kvlab_report_tasks.py (task rows) from
// its own directory: the files of tools/report travel together.
std::filesystem::path FindReportScript();

// Validates the inputs (each results file is JSONL of objects; each analysis dir holds <mode>.json files),
// draws everything into out.tmp and renames it to `out` (replacing an older report), so a failure never
// leaves a partial report. Throws kvlab::Error with one line on any failure (missing python, matplotlib,
// bad input, a plotting error).
void RunReport(const std::vector<std::string>& results, const std::vector<std::string>& analysis_dirs,
               const std::filesystem::path& out);

}  // namespace kvlab::cli
