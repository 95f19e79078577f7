#include "kvlab/eval/text_source.h"

#include <algorithm>
#include <cctype>

#include "kvlab/eval/wikitext.h"
#include "kvlab/util/assets.h"
#include "kvlab/util/error.h"
#include "kvlab/util/mapped_file.h"

namespace kvlab {

namespace fs = std::filesystem;

namespace {

// A file, or a text directory's split, named by a path or a name under $KVLAB_ASSETS/text; empty if none.
fs::path ResolveTextFile(const std::string& name) {
  std::error_code ec;
  std::vector<fs::path> candidates = {fs::path(name)};
  const fs::path assets = AssetsDir();
  if (!assets.empty()) candidates.push_back(assets / "text" / name);
  for (const fs::path& c : candidates) {
    if (fs::is_regular_file(c, ec)) return c;
    if (fs::is_directory(c, ec)) {
      if (fs::path split = TextDirectorySplit(c); !split.empty()) return split;
    }
  }
  return {};
}

}  // namespace

fs::path TextDirectorySplit(const fs::path& dir) {
  std::error_code ec;
  for (const char* name : {"wiki.test.raw", "test.tokens.txt"}) {
    if (fs::is_regular_file(dir / name, ec)) return dir / name;
  }
  return {};
}

std::vector<std::string> KnownTexts() {
  std::vector<std::string> known;
  const fs::path assets = AssetsDir();
  std::error_code ec;
  if (assets.empty() || !fs::is_directory(assets / "text", ec)) return known;
  for (const auto& entry : fs::directory_iterator(assets / "text", ec)) {
    if (entry.is_regular_file() || (entry.is_directory() && !TextDirectorySplit(entry.path()).empty())) {
      known.push_back(entry.path().filename().string());
    }
  }
  std::sort(known.begin(), known.end());
  return known;
}

TextSource ResolveTextSource(const std::string& argument, const std::string& flag) {
  if (argument.empty()) throw Error(flag, "no text given");
  if (fs::path whole = ResolveTextFile(argument); !whole.empty()) return {whole, std::nullopt};
  // NAME:N, article N of NAME.
  const size_t colon = argument.rfind(':');
  if (colon != std::string::npos && colon > 0 && colon + 1 < argument.size()) {
    const std::string digits = argument.substr(colon + 1);
    if (digits.size() <= 9 &&
        std::all_of(digits.begin(), digits.end(), [](unsigned char c) { return std::isdigit(c); })) {
      if (fs::path file = ResolveTextFile(argument.substr(0, colon)); !file.empty()) {
        return {file, static_cast<size_t>(std::stoul(digits))};
      }
    }
  }
  std::string known;
  for (const std::string& k : KnownTexts()) known += (known.empty() ? "" : ", ") + k;
  const fs::path assets = AssetsDir();
  throw Error(flag,
              argument + ": no such text file" +
                  (assets.empty() ? std::string() : " here or in " + (assets / "text").string()),
              (known.empty() ? std::string() : "known texts: " + known + "; ") +
                  "NAME:N takes article N of a WikiText file (`kvlab texts` lists them)");
}

std::string ReadTextSource(const TextSource& source, const std::string& flag) {
  std::string text;
  try {
    text = ReadTextFile(source.path);
  } catch (const Error& e) {
    throw Error(flag, e.what());
  }
  if (source.article) {
    const std::vector<WikiArticle> articles = WikiTextArticles(text);
    if (*source.article >= articles.size()) {
      throw Error(flag, source.path.string() + ": article " + std::to_string(*source.article) +
                            (articles.empty()
                                 ? std::string(": the file has no WikiText articles (\" = Title = \" lines)")
                                 : " is past the last one (" + std::to_string(articles.size()) +
                                       " articles, 0 to " + std::to_string(articles.size() - 1) + ")"));
    }
    const WikiArticle& a = articles[*source.article];
    text = text.substr(a.begin, a.end - a.begin);
  }
  if (text.empty()) throw Error(flag, source.path.string() + " is empty");
  return text;
}

}  // namespace kvlab
