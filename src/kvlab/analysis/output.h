// What an analysis mode produces and how it is written: `<mode>.json` (everything, nested) and
// `<mode>.csv` (the mode's main table, one row per layer / head / position / ...), each written to a
// temporary file and renamed into place, so a failed run never leaves half a file.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace kvlab::analysis {

struct Table {
  std::vector<std::string> columns;
  std::vector<std::vector<nlohmann::json>> rows;  // numbers, strings, booleans or null
  void Add(std::vector<nlohmann::json> row) { rows.push_back(std::move(row)); }
};

struct AnalysisOutput {
  nlohmann::json json = nlohmann::json::object();
  Table table;
};

std::string ToCsv(const Table& table);
// Writes `content` to path via path.tmp + rename. Throws kvlab::Error naming the path on failure.
void WriteFileAtomically(const std::filesystem::path& path, const std::string& content);
// Creates `dir` if needed and writes <mode>.json (the json plus the table under "table") and <mode>.csv.
void WriteAnalysisOutput(const std::filesystem::path& dir, const std::string& mode,
                         const AnalysisOutput& out);

}  // namespace kvlab::analysis
