#include "eval_common.h"

#include <cstdio>
#include <fstream>
#include <sstream>

#include "kvlab/eval/run_info.h"
#include "kvlab/kv/registry.h"
#include "kvlab/util/assets.h"
#include "kvlab/util/error.h"
#include "kvlab/util/mapped_file.h"

namespace kvlab::cli {

namespace fs = std::filesystem;

fs::path ResolveTextPath(const std::string& name_or_path, const std::string& flag) {
  if (name_or_path.empty()) throw Error(flag, "no text given");
  if (fs::is_regular_file(name_or_path)) return name_or_path;
  const fs::path assets = AssetsDir();
  if (!assets.empty() && fs::is_regular_file(assets / "text" / name_or_path))
    return assets / "text" / name_or_path;
  throw Error(flag, "'" + name_or_path + "' is neither a file nor a text under " +
                        (assets.empty() ? std::string("$KVLAB_ASSETS/text") : (assets / "text").string()));
}

std::vector<int32_t> TokenizeTextFile(const Tokenizer& tokenizer, const fs::path& path, size_t max_tokens,
                                      const std::string& flag, bool parse_special) {
  std::string text;
  try {
    text = ReadTextFile(path);
  } catch (const Error& e) {
    throw Error(flag, e.what());
  }
  if (text.empty()) throw Error(flag, path.string() + " is empty");
  const EncodeOptions bos{.add_special = tokenizer.add_bos_default(), .parse_special = parse_special};
  if (max_tokens > 0) {
    // Every tokenizer here yields at least one token per 16 bytes; cut at a paragraph break so no token
    // straddles the cut, and fall back to the whole text if the prefix turns out too short.
    const size_t want = max_tokens * 16 + 1024;
    if (want < text.size()) {
      const size_t cut = text.find("\n\n", want);
      if (cut != std::string::npos) {
        std::vector<int32_t> ids = tokenizer.Encode(std::string_view(text).substr(0, cut), bos);
        if (ids.size() >= max_tokens) return ids;
      }
    }
  }
  std::vector<int32_t> ids = tokenizer.Encode(text, bos);
  if (ids.empty()) throw Error(flag, path.string() + " encodes to no tokens");
  return ids;
}

std::vector<int32_t> ReadIdsFile(const fs::path& path, const std::string& flag) {
  std::ifstream in(path);
  if (!in) throw Error(flag, "cannot open " + path.string());
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  for (char& c : s) {
    if (c == '[' || c == ']' || c == ',') c = ' ';
  }
  std::istringstream words(s);
  std::vector<int32_t> ids;
  std::string w;
  while (words >> w) {
    try {
      size_t used = 0;
      const long v = std::stol(w, &used);
      if (used != w.size() || v < 0 || v > INT32_MAX) throw std::invalid_argument(w);
      ids.push_back(static_cast<int32_t>(v));
    } catch (const std::exception&) {
      throw Error(flag, path.string() + ": '" + w + "' is not a token id");
    }
  }
  if (ids.empty()) throw Error(flag, path.string() + " holds no token ids");
  return ids;
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
