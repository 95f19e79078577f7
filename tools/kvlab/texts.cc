// kvlab texts: what --text can name. The files and text directories under $KVLAB_ASSETS/text, and the
// articles of a WikiText text (index from 0, title, size, and with -m its tokens for that model), which
// "NAME:N" selects on every command that takes a text (eval/text_source.h).
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cli_common.h"
#include "commands.h"
#include "eval_common.h"
#include "kvlab/eval/text_source.h"
#include "kvlab/eval/wikitext.h"
#include "kvlab/util/assets.h"
#include "kvlab/util/error.h"
#include "kvlab/util/mapped_file.h"

namespace kvlab::cli {

namespace {
namespace fs = std::filesystem;

struct TextsArgs {
  std::string name;   // one text, or every text under $KVLAB_ASSETS/text
  std::string model;  // count tokens with this model's tokenizer
  JsonOutput json;
};

struct Listed {
  std::string name;  // what --text takes
  fs::path path;
  std::string text;
  std::vector<WikiArticle> articles;
  bool expand = false;  // list its articles one by one
};

std::string Size(size_t bytes) {
  char buf[32];
  if (bytes >= (1u << 20)) {
    std::snprintf(buf, sizeof buf, "%.2f MB", static_cast<double>(bytes) / (1 << 20));
  } else if (bytes >= 1024) {
    std::snprintf(buf, sizeof buf, "%.1f KB", static_cast<double>(bytes) / 1024);
  } else {
    std::snprintf(buf, sizeof buf, "%zu B", bytes);
  }
  return buf;
}

Listed Read(const std::string& name, const fs::path& path, bool expand) {
  Listed l{name, path, ReadTextFile(path), {}, expand};
  l.articles = WikiTextArticles(l.text);
  return l;
}

// Every text under $KVLAB_ASSETS/text: its files, and for a text directory the split its name stands for
// (articles listed) and its other files.
std::vector<Listed> ListAssets() {
  const fs::path dir = AssetsDir() / "text";
  std::error_code ec;
  if (AssetsDir().empty() || !fs::is_directory(dir, ec)) {
    throw Error("kvlab texts", "no text directory: " + dir.string(), "set KVLAB_ASSETS to the shared assets");
  }
  std::vector<Listed> out;
  for (const std::string& name : KnownTexts()) {
    const fs::path path = dir / name;
    if (fs::is_regular_file(path, ec)) {
      out.push_back(Read(name, path, false));
      continue;
    }
    const fs::path split = TextDirectorySplit(path);
    out.push_back(Read(name, split, true));
    std::vector<std::string> others;
    for (const auto& e : fs::directory_iterator(path, ec)) {
      if (e.is_regular_file() && e.path() != split) others.push_back(e.path().filename().string());
    }
    std::sort(others.begin(), others.end());
    for (const std::string& o : others) out.push_back(Read(name + "/" + o, path / o, false));
  }
  return out;
}

void Run(const TextsArgs& a) {
  std::vector<Listed> texts;
  if (a.name.empty()) {
    texts = ListAssets();
  } else {
    const TextSource s = ResolveTextSource(a.name, "kvlab texts");
    if (s.article)
      throw Error("kvlab texts",
                  a.name + " is one article; name the text (" + a.name.substr(0, a.name.rfind(':')) + ")");
    texts.push_back(Read(a.name, s.path, true));
  }
  const std::unique_ptr<Tokenizer> tokenizer = a.model.empty() ? nullptr : TokenizerOfModel(a.model);
  auto tokens = [&](std::string_view text) -> std::optional<size_t> {
    if (!tokenizer) return std::nullopt;
    return tokenizer->Encode(text, EncodeOptions{.add_special = tokenizer->add_bos_default()}).size();
  };

  nlohmann::json json = nlohmann::json::array();
  const bool print = !a.json.Requested();
  if (print) {
    std::printf("%-30s %10s %10s %8s  %s\n", "text (--text NAME)", "size", tokenizer ? "tokens" : "",
                "articles", "file");
  }
  for (const Listed& t : texts) {
    const std::optional<size_t> n = tokens(t.text);
    nlohmann::json j = {{"name", t.name},
                        {"path", t.path.string()},
                        {"bytes", t.text.size()},
                        {"articles", t.articles.size()}};
    if (n) j["tokens"] = *n;
    if (print) {
      std::printf("%-30s %10s %10s %8s  %s\n", t.name.c_str(), Size(t.text.size()).c_str(),
                  n ? std::to_string(*n).c_str() : "",
                  t.articles.empty() ? "" : std::to_string(t.articles.size()).c_str(),
                  t.path.string().c_str());
    }
    if (t.expand && !t.articles.empty()) {
      nlohmann::json list = nlohmann::json::array();
      for (size_t i = 0; i < t.articles.size(); ++i) {
        const WikiArticle& w = t.articles[i];
        const std::string_view body = std::string_view(t.text).substr(w.begin, w.end - w.begin);
        nlohmann::json aj = {{"index", i},
                             {"name", t.name + ":" + std::to_string(i)},
                             {"title", w.title},
                             {"bytes", body.size()}};
        if (const std::optional<size_t> m = tokens(body)) aj["tokens"] = *m;
        list.push_back(aj);
      }
      j["article_list"] = list;
    }
    json.push_back(j);
  }
  if (!print) {
    a.json.Write(json);
    return;
  }
  for (const nlohmann::json& j : json) {
    if (!j.contains("article_list")) continue;
    std::printf("\n%s: %zu articles (--text %s:N)\n", j["name"].get<std::string>().c_str(),
                j["article_list"].size(), j["name"].get<std::string>().c_str());
    std::printf("%-18s %10s %10s  %s\n", "text", "size", tokenizer ? "tokens" : "", "title");
    for (const nlohmann::json& aj : j["article_list"]) {
      std::printf("%-18s %10s %10s  %s\n", aj["name"].get<std::string>().c_str(), Size(aj["bytes"]).c_str(),
                  aj.contains("tokens") ? std::to_string(aj["tokens"].get<size_t>()).c_str() : "",
                  aj["title"].get<std::string>().c_str());
    }
  }
}
}  // namespace

void AddTextsCommand(CLI::App& app) {
  auto args = std::make_shared<TextsArgs>();
  CLI::App* cmd = app.add_subcommand(
      "texts", "list the texts under $KVLAB_ASSETS/text and the articles of WikiText ones (--text NAME:N)");
  cmd->add_option("name", args->name, "one text (a name, a path or a text directory): list its articles");
  cmd->add_option("-m,--model", args->model,
                  "count tokens with this model's tokenizer (its weights are not loaded)");
  args->json.Add(cmd);
  cmd->callback([args] { Run(*args); });
}

}  // namespace kvlab::cli
