#include "test_assets.h"

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace kvlab::test {

std::filesystem::path AssetsDir() {
  if (const char* env = std::getenv("KVLAB_ASSETS"); env != nullptr && *env != '\0') return env;
  return KVLAB_DEFAULT_ASSETS;
}

namespace {
// The library looks assets up itself (task haystacks, short model and text names) through KVLAB_ASSETS or
// ../shared next to the working directory or the program; a test binary in build/tests finds neither, so
// the tests hand it the directory they use (a no-op when KVLAB_ASSETS is set).
const bool kAssetsForTheLibrary = [] {
  ::setenv("KVLAB_ASSETS", KVLAB_DEFAULT_ASSETS, /*overwrite=*/0);
  return true;
}();
}  // namespace

nlohmann::json ReadJson(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path.string());
  return nlohmann::json::parse(in);
}

std::filesystem::path TempDir(const std::string& tag) {
  static std::atomic<int> counter{0};
  auto dir = std::filesystem::temp_directory_path() /
             ("kvlab-test-" + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

static std::string Slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

CommandResult RunKvlab(const std::string& args) {
  auto dir = TempDir("run");
  auto out = dir / "stdout", err = dir / "stderr";
  std::string cmd = std::string("'") + KVLAB_BINARY + "' " + args + " >'" + out.string() + "' 2>'" +
                    err.string() + "' </dev/null";
  int status = std::system(cmd.c_str());
  CommandResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = Slurp(out);
  r.err = Slurp(err);
  std::filesystem::remove_all(dir);
  return r;
}

std::string Quote(const std::filesystem::path& p) {
  std::string q = "'";
  for (char c : p.string()) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

}  // namespace kvlab::test
