// Text sources (eval/text_source.h) and WikiText articles (eval/wikitext.h): what "NAME", "PATH:N" and a
// text directory resolve to, which bytes an article is, and the one-line errors.
#include "kvlab/eval/text_source.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "kvlab/eval/wikitext.h"
#include "kvlab/util/error.h"
#include "test_assets.h"

namespace kvlab {
namespace {

namespace fs = std::filesystem;

constexpr const char* kWiki =
    "preface that belongs to no article\n"
    " \n"
    " = First Title = \n"
    " \n"
    " Text of the first article .\n"
    " = = A section = = \n"
    " More text .\n"
    " = = = A subsection = = = \n"
    " \n"
    " = Second ( title ) = \r\n"
    " Second text .\n"
    " =  = \n"
    "= Not a heading =\n"
    " = Third = ";

void Write(const fs::path& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

std::string ErrorOf(const std::string& argument) {
  try {
    ReadTextSource(ResolveTextSource(argument, "--text"), "--text");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(WikiText, ArticlesStartAtTopLevelHeadingsOnly) {
  const std::string text = kWiki;
  const auto articles = WikiTextArticles(text);
  ASSERT_EQ(articles.size(), 3u);
  EXPECT_EQ(articles[0].title, "First Title");
  EXPECT_EQ(articles[1].title, "Second ( title )");  // CRLF line
  EXPECT_EQ(articles[2].title, "Third");             // last line, no newline
  // Contiguous, from each heading line to the next, the last to the end of the file.
  EXPECT_EQ(text.substr(articles[0].begin, 17), " = First Title = ");
  EXPECT_EQ(articles[0].end, articles[1].begin);
  EXPECT_EQ(articles[1].end, articles[2].begin);
  EXPECT_EQ(articles[2].end, text.size());
  EXPECT_NE(text.substr(articles[0].begin, articles[0].end - articles[0].begin).find("A subsection"),
            std::string::npos);
  EXPECT_TRUE(WikiTextArticles("no headings here\n = = only a section = = \n").empty());
  EXPECT_TRUE(WikiTextArticles("").empty());
}

TEST(TextSource, FilesDirectoriesAndArticles) {
  const fs::path dir = test::TempDir("text-source");
  Write(dir / "wiki.txt", kWiki);
  const std::string wiki = (dir / "wiki.txt").string();
  EXPECT_FALSE(ResolveTextSource(wiki, "--text").article.has_value());
  EXPECT_EQ(ReadTextSource(ResolveTextSource(wiki, "--text"), "--text"), kWiki);
  const TextSource second = ResolveTextSource(wiki + ":1", "--text");
  EXPECT_EQ(second.path, dir / "wiki.txt");
  ASSERT_TRUE(second.article.has_value());
  EXPECT_EQ(ReadTextSource(second, "--text"),
            " = Second ( title ) = \r\n Second text .\n =  = \n= Not a heading =\n");
  // A directory holding a WikiText split stands for its test split.
  fs::create_directories(dir / "wikitext");
  Write(dir / "wikitext" / "wiki.test.raw", kWiki);
  EXPECT_EQ(ResolveTextSource((dir / "wikitext").string(), "--text").path,
            dir / "wikitext" / "wiki.test.raw");
  EXPECT_EQ(ReadTextSource(ResolveTextSource((dir / "wikitext").string() + ":2", "--text"), "--text"),
            " = Third = ");
  // A file whose own name ends in ":N" is that file.
  Write(dir / "notes:1", "plain");
  EXPECT_EQ(ReadTextSource(ResolveTextSource((dir / "notes:1").string(), "--text"), "--text"), "plain");
}

TEST(TextSource, BadArgumentsAreOneLineErrorsNamingTheFlag) {
  const fs::path dir = test::TempDir("text-source-bad");
  Write(dir / "wiki.txt", kWiki);
  Write(dir / "plain.txt", "no articles");
  const std::string past = ErrorOf((dir / "wiki.txt").string() + ":3");
  EXPECT_NE(past.find("--text"), std::string::npos) << past;
  EXPECT_NE(past.find("article 3 is past the last one (3 articles, 0 to 2)"), std::string::npos) << past;
  EXPECT_NE(ErrorOf((dir / "plain.txt").string() + ":0").find("has no WikiText articles"), std::string::npos);
  EXPECT_NE(ErrorOf((dir / "missing.txt").string()).find("no such text file"), std::string::npos);
  EXPECT_NE(ErrorOf((dir / "wiki.txt").string() + ":x").find("no such text file"), std::string::npos);
  EXPECT_NE(ErrorOf("").find("no text given"), std::string::npos);
  for (const std::string& e : {past, ErrorOf((dir / "missing.txt").string())}) {
    EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  }
}

// The shared WikiText-2 test split: 62 articles, the first titled as in the corpus, "wikitext-2:N" resolving
// by name under $KVLAB_ASSETS/text.
TEST(TextSource, WikiText2TestSplitFromTheAssets) {
  KVLAB_REQUIRE_ASSETS();
  const TextSource whole = ResolveTextSource("wikitext-2", "--text");
  EXPECT_EQ(whole.path.filename(), "wiki.test.raw");
  const std::string text = ReadTextSource(whole, "--text");
  const auto articles = WikiTextArticles(text);
  ASSERT_EQ(articles.size(), 62u);
  EXPECT_EQ(articles[0].title, "Robert Boulter");
  const std::string third = ReadTextSource(ResolveTextSource("wikitext-2:3", "--text"), "--text");
  EXPECT_EQ(third, text.substr(articles[3].begin, articles[3].end - articles[3].begin));
  EXPECT_EQ(third.rfind(" = " + articles[3].title + " = ", 0), 0u);
}

}  // namespace
}  // namespace kvlab
