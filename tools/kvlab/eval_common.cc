#include "eval_common.h"

#include <cstdio>
#include <fstream>

#include "kvlab/util/error.h"

namespace kvlab::cli {

namespace fs = std::filesystem;

void JsonOutput::Add(CLI::App* cmd) {
  option = cmd->add_option("--json", path, "print one JSON object (to FILE if given, '-' or nothing: stdout)")
               ->expected(0, 1);
}

void JsonOutput::Write(const nlohmann::json& j) const {
  // Generated text may hold partial UTF-8 (byte tokens): replace invalid bytes instead of throwing.
  const std::string s = j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  if (path.empty() || path == "-") {
    std::fwrite(s.data(), 1, s.size(), stdout);
    return;
  }
  const fs::path target(path);
  const fs::path tmp = target.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary);
    if (!out) throw Error("--json", "cannot write " + tmp.string());
    out << s;
    out.close();
    if (!out) throw Error("--json", "cannot write " + tmp.string());
  }
  std::error_code ec;
  fs::rename(tmp, target, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw Error("--json", "cannot rename " + tmp.string() + " to " + target.string());
  }
}

}  // namespace kvlab::cli
