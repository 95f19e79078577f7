#include "report_runner.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <system_error>

#include "kvlab/util/error.h"

namespace kvlab::cli {

namespace fs = std::filesystem;

namespace {
fs::path ExecutableDir() {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::path() : exe.parent_path();
}

std::string PythonPath() {
  const char* env = std::getenv("KVLAB_PYTHON");
  return env != nullptr && *env ? env : "/usr/bin/python3";
}

// A results file is sweep JSONL, or the one object `kvlab tasks --json` writes.
void CheckReadableResults(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(path, "cannot open results file");
  {
    const nlohmann::json whole = nlohmann::json::parse(in, nullptr, false);
    if (whole.is_object() && whole.value("command", "") == "tasks") {
      if (!whole.contains("runs") || !whole["runs"].is_array() || whole["runs"].empty())
        throw Error(path, "kvlab tasks output without runs");
      return;
    }
  }
  in.clear();
  in.seekg(0);
  std::string line;
  size_t n = 0, rows = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      throw Error(path + ":" + std::to_string(n),
                  "not a JSON object (results are JSONL: one object per line)");
    }
    ++rows;
  }
  if (rows == 0) throw Error(path, "no result rows");
}

void CheckAnalysisDir(const std::string& dir) {
  if (!fs::is_directory(dir)) throw Error("--analysis", dir + " is not a directory");
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".json") return;
  }
  throw Error("--analysis", dir + " holds no <mode>.json files", "run kvlab analyze --out " + dir);
}

std::string LastLine(const std::string& s) {
  std::istringstream in(s);
  std::string line, last;
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") != std::string::npos) last = line;
  }
  return last;
}

// Runs argv with stderr captured into `err`; returns the exit status (-1 if it could not start).
int Spawn(const std::vector<std::string>& argv, const fs::path& err_file, std::string& err) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    const int fd = open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      dup2(fd, 2);
      dup2(fd, 1);
      close(fd);
    }
    execv(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  std::ifstream in(err_file);
  err.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}
}  // namespace

fs::path FindReportScript() {
  if (const char* env = std::getenv("KVLAB_REPORT_SCRIPT"); env != nullptr && *env) return env;
  const fs::path dir = ExecutableDir();
  for (const fs::path& p : {dir / "kvlab_report.py", dir / ".." / "share" / "kvlab" / "kvlab_report.py",
                            fs::path(KVLAB_REPORT_SCRIPT_SOURCE)}) {
    if (fs::is_regular_file(p)) return p;
  }
  throw Error("kvlab report", "plotting script kvlab_report.py not found",
              "set KVLAB_REPORT_SCRIPT or keep tools/report/*.py next to the binary");
}

void RunReport(const std::vector<std::string>& results, const std::vector<std::string>& analysis_dirs,
               const fs::path& out) {
  if (results.empty() && analysis_dirs.empty()) {
    throw Error("kvlab report", "nothing to report", "give a RESULTS.jsonl and/or --analysis DIR");
  }
  for (const std::string& r : results) CheckReadableResults(r);
  for (const std::string& d : analysis_dirs) CheckAnalysisDir(d);
  const std::string python = PythonPath();
  if (access(python.c_str(), X_OK) != 0) {
    throw Error("kvlab report", python + " not found",
                "install python3 and python3-matplotlib (Debian packages)");
  }
  const fs::path script = FindReportScript();
  if (out.empty() || out.filename().empty()) throw Error("--out", "empty output directory");
  const fs::path tmp = out.string() + ".tmp";
  std::error_code ec;
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  if (ec) throw Error("--out", "cannot create " + tmp.string() + ": " + ec.message());
  std::vector<std::string> argv = {python, script.string(), "--out", tmp.string()};
  for (const std::string& r : results) argv.insert(argv.end(), {"--results", r});
  for (const std::string& d : analysis_dirs) argv.insert(argv.end(), {"--analysis", d});
  const fs::path log = tmp.string() + ".log";
  std::string err;
  const int status = Spawn(argv, log, err);
  fs::remove(log, ec);
  if (status != 0) {
    fs::remove_all(tmp, ec);
    std::string why = LastLine(err);
    if (status == 127 && why.empty()) why = "cannot run " + python;
    throw Error("kvlab report", why.empty() ? "plotting failed (exit " + std::to_string(status) + ")" : why);
  }
  // Swap in the finished report: old one aside, new one in, old one gone.
  const fs::path old = out.string() + ".old";
  fs::remove_all(old, ec);
  if (fs::exists(out)) fs::rename(out, old, ec);
  if (ec) throw Error("--out", "cannot replace " + out.string() + ": " + ec.message());
  fs::rename(tmp, out, ec);
  if (ec) throw Error("--out", "cannot move the report into " + out.string() + ": " + ec.message());
  fs::remove_all(old, ec);
}

}  // namespace kvlab::cli
