// The results file of a sweep: JSON Lines, one row per finished grid point.
//
// Rows are appended with one write() to a file opened O_APPEND and then fsync'd, so a kill leaves at most
// one partial last line (no '\n'), which LoadResults drops (and truncates away when repairing). Whole-file
// rewrites (the final grid-order file, summaries) go through a temporary file and rename().
#pragma once

#include <cstddef>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace kvlab {

struct LoadedResults {
  std::vector<nlohmann::json> rows;
  size_t partial_bytes = 0;  // bytes of a trailing line without '\n' (dropped)
};

// Reads every complete line (a missing file gives no rows). With repair, a partial trailing line is
// truncated from the file. Throws kvlab::Error "FILE:LINE: ..." on a complete line that is not a JSON object.
LoadedResults LoadResults(const std::filesystem::path& path, bool repair);

class ResultsAppender {
 public:
  // Creates the file (and its directory) if needed. Throws kvlab::Error naming the file.
  explicit ResultsAppender(const std::filesystem::path& path);
  ~ResultsAppender();
  ResultsAppender(const ResultsAppender&) = delete;
  ResultsAppender& operator=(const ResultsAppender&) = delete;
  // One line, one write(), then fsync: after Append returns the row survives a kill.
  void Append(const nlohmann::json& row);

 private:
  std::filesystem::path path_;
  int fd_ = -1;
};

// Writes `text` to path.tmp.PID, fsyncs it and renames it over `path`.
void WriteFileAtomically(const std::filesystem::path& path, const std::string& text);
// Rows as JSON Lines.
std::string ToJsonLines(const std::vector<nlohmann::json>& rows);

}  // namespace kvlab
