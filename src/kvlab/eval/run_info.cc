#include "kvlab/eval/run_info.h"

#include <unistd.h>

#include <ctime>
#include <fstream>
#include <thread>

#include "kvlab/kv/registry.h"

namespace kvlab {

// The build's git revision (generated at build time by cmake/git_rev.cmake).
const char* KvlabGitRev();

namespace {
std::string CpuModel() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      const size_t colon = line.find(':');
      if (colon == std::string::npos) break;
      size_t b = colon + 1;
      while (b < line.size() && line[b] == ' ') ++b;
      return line.substr(b);
    }
  }
  return "unknown";
}

std::string HostName() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "unknown";
  return buf;
}
}  // namespace

std::string UtcTimestamp() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

nlohmann::json RunInfo() {
  const std::string host = HostName(), cpu = CpuModel();
  const unsigned cores = std::thread::hardware_concurrency();
  return {{"git_rev", KvlabGitRev()},
          {"machine", host + " (" + cpu + ", " + std::to_string(cores) + " cores)"},
          {"hostname", host},
          {"cpu", cpu},
          {"cores", cores},
          {"timestamp", UtcTimestamp()},
          {"kvlab_version", KVLAB_VERSION}};
}

nlohmann::json ResultRow(const std::string& model, const std::string& text, int64_t tokens,
                         const std::string& kv_spec) {
  nlohmann::json row = RunInfo();
  row["model"] = model;
  row["text"] = text;
  row["tokens_evaluated"] = tokens;
  const std::string spec = MakePolicy(kv_spec)->Spec();
  row["kv"] = spec;
  int64_t seed = 0;
  if (const size_t at = spec.find("seed="); at != std::string::npos) seed = std::atoll(spec.c_str() + at + 5);
  row["seed"] = seed;
  return row;
}

}  // namespace kvlab
