#include "kvlab/analysis/output.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <system_error>

#include "kvlab/util/error.h"

namespace kvlab::analysis {

namespace fs = std::filesystem;

namespace {
std::string CsvCell(const nlohmann::json& v) {
  if (v.is_null()) return "";
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    if (s.find_first_of(",\"\n") == std::string::npos) return s;
    std::string q = "\"";
    for (char ch : s) q += ch == '"' ? std::string("\"\"") : std::string(1, ch);
    return q + "\"";
  }
  if (v.is_number_float()) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.6g", v.get<double>());
    return buf;
  }
  return v.dump();
}
}  // namespace

std::string ToCsv(const Table& table) {
  std::string s;
  auto add_line = [&s](const auto& cells) {
    for (size_t i = 0; i < cells.size(); ++i) {
      if (i > 0) s += ',';
      s += CsvCell(cells[i]);
    }
    s += '\n';
  };
  add_line(table.columns);
  for (const auto& row : table.rows) add_line(row);
  return s;
}

void WriteFileAtomically(const fs::path& path, const std::string& content) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw Error(path.string(), "cannot open for writing");
    out << content;
    out.flush();
    if (!out) {
      std::error_code ignored;
      fs::remove(tmp, ignored);
      throw Error(path.string(), "write failed");
    }
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw Error(path.string(), "cannot move the finished file into place");
  }
}

void WriteAnalysisOutput(const fs::path& dir, const std::string& mode, const AnalysisOutput& out) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir)) throw Error("--out", "cannot create directory " + dir.string());
  nlohmann::json j = out.json;
  j["mode"] = mode;
  nlohmann::json table = nlohmann::json::object();
  table["columns"] = out.table.columns;
  table["rows"] = out.table.rows;
  j["table"] = table;
  // NaN/inf are not JSON: dump with replacement so readers never choke.
  WriteFileAtomically(dir / (mode + ".json"),
                      j.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  WriteFileAtomically(dir / (mode + ".csv"), ToCsv(out.table));
}

}  // namespace kvlab::analysis
