#include "kvlab/util/assets.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <vector>

#include "kvlab/util/error.h"

namespace kvlab {

namespace fs = std::filesystem;

namespace {
fs::path ExecutableDir() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::path() : exe.parent_path();
}

// Picks the loadable model inside a directory of the assets tree.
fs::path ModelInDirectory(const fs::path& dir) {
  if (fs::exists(dir / "config.json")) return dir;
  std::vector<fs::path> bins, ggufs;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (entry.path().extension() == ".gguf") ggufs.push_back(entry.path());
    // tokenizer.bin / tok512.bin sit next to llama2.c checkpoints: they are not models.
    if (entry.path().extension() == ".bin" && name.rfind("tok", 0) != 0) bins.push_back(entry.path());
  }
  std::sort(bins.begin(), bins.end());
  std::sort(ggufs.begin(), ggufs.end());
  if (!bins.empty()) return bins.front();
  if (!ggufs.empty()) return ggufs.front();
  throw Error(dir.string(), "no config.json, llama2.c .bin or .gguf model in this directory");
}
}  // namespace

fs::path AssetsDir() {
  if (const char* env = std::getenv("KVLAB_ASSETS"); env != nullptr && *env != '\0') return env;
  std::vector<fs::path> candidates = {fs::path("..") / "shared"};
  if (fs::path exe = ExecutableDir(); !exe.empty()) {
    candidates.push_back(exe / ".." / "shared");
    candidates.push_back(exe / ".." / ".." / "shared");
  }
  for (const fs::path& c : candidates) {
    std::error_code ec;
    if (fs::is_directory(c / "models", ec)) return fs::weakly_canonical(c);
  }
  return {};
}

fs::path ResolveModelPath(const std::string& name_or_path) {
  std::error_code ec;
  if (fs::exists(name_or_path, ec)) return name_or_path;
  const fs::path assets = AssetsDir();
  if (assets.empty()) {
    throw Error(name_or_path, "no such file, and no assets directory to look the name up in",
                "set KVLAB_ASSETS to the directory holding models/");
  }
  const fs::path models = assets / "models";
  std::string available;
  if (fs::is_directory(models, ec)) {
    for (const auto& entry : fs::directory_iterator(models)) {
      if (!entry.is_directory()) continue;
      const std::string name = entry.path().filename().string();
      if (name == name_or_path) return ModelInDirectory(entry.path());
      // Case-insensitive match as a convenience ("TinyStories-656K" for tinystories-656k).
      std::string a = name, b = name_or_path;
      std::transform(a.begin(), a.end(), a.begin(), ::tolower);
      std::transform(b.begin(), b.end(), b.begin(), ::tolower);
      if (a == b) return ModelInDirectory(entry.path());
      available += (available.empty() ? "" : ", ") + name;
    }
  }
  throw Error(name_or_path, "no such file and no model of that name in " + models.string(),
              available.empty() ? "" : "known names: " + available);
}

std::filesystem::path ResolveTextPath(const std::string& name_or_path) {
  std::error_code ec;
  if (fs::is_regular_file(name_or_path, ec)) return name_or_path;
  const fs::path assets = AssetsDir();
  if (!assets.empty() && fs::is_regular_file(assets / "text" / name_or_path, ec))
    return assets / "text" / name_or_path;
  std::string known;
  if (!assets.empty() && fs::is_directory(assets / "text", ec)) {
    for (const auto& entry : fs::directory_iterator(assets / "text", ec)) {
      if (entry.is_regular_file()) known += (known.empty() ? "" : ", ") + entry.path().filename().string();
    }
  }
  throw Error(
      name_or_path,
      "no such text file" + (assets.empty() ? std::string() : " here or in " + (assets / "text").string()),
      known.empty() ? "" : "known texts: " + known);
}

}  // namespace kvlab
