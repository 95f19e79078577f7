// kvlab texts and --text NAME:N end to end: the listing of $KVLAB_ASSETS/text with WikiText articles (and
// their tokens for a model), an article evaluated by ppl, and bad names as one-line errors.
#include <gtest/gtest.h>

#include <string>

#include "test_assets.h"

namespace kvlab {
namespace {

using test::RunKvlab;

TEST(TextsCli, ListsTextsAndWikiTextArticlesWithTokens) {
  KVLAB_REQUIRE_ASSETS();
  auto all = RunKvlab("texts");
  ASSERT_EQ(all.exit_code, 0) << all.err;
  EXPECT_NE(all.out.find("tinystories_val.txt"), std::string::npos) << all.out;
  EXPECT_NE(all.out.find("wikitext-2: 62 articles"), std::string::npos) << all.out;
  EXPECT_NE(all.out.find("wikitext-2:0"), std::string::npos);
  EXPECT_NE(all.out.find("Robert Boulter"), std::string::npos);

  auto json = RunKvlab("texts wikitext-2 -m stories260K --json");
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const auto j = nlohmann::json::parse(json.out);
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0]["articles"], 62);
  const auto& list = j[0]["article_list"];
  ASSERT_EQ(list.size(), 62u);
  EXPECT_EQ(list[3]["name"], "wikitext-2:3");
  size_t article_tokens = 0;
  for (const auto& a : list) {
    EXPECT_GT(a["tokens"].get<size_t>(), 0u);
    article_tokens += a["tokens"].get<size_t>();
  }
  // Articles are tokenized one by one (each with its own BOS), so their sum is close to the whole's.
  const size_t whole = j[0]["tokens"].get<size_t>();
  EXPECT_GT(article_tokens, whole * 99 / 100);
  EXPECT_LT(article_tokens, whole * 101 / 100);
}

TEST(TextsCli, AnArticleIsWhatPplEvaluates) {
  KVLAB_REQUIRE_ASSETS();
  auto third = RunKvlab("ppl -m stories260K --text wikitext-2:3 --max-tokens 128 --json");
  auto fourth = RunKvlab("ppl -m stories260K --text wikitext-2:4 --max-tokens 128 --json");
  ASSERT_EQ(third.exit_code, 0) << third.err;
  ASSERT_EQ(fourth.exit_code, 0) << fourth.err;
  const auto a = nlohmann::json::parse(third.out), b = nlohmann::json::parse(fourth.out);
  EXPECT_EQ(a["text"], "wikitext-2:3");
  EXPECT_NE(a["nll_mean"], b["nll_mean"]);

  auto past = RunKvlab("ppl -m stories260K --text wikitext-2:62");
  EXPECT_EQ(past.exit_code, 1);
  EXPECT_NE(past.err.find("article 62 is past the last one (62 articles, 0 to 61)"), std::string::npos)
      << past.err;
  auto unknown = RunKvlab("texts no-such-text");
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("known texts:"), std::string::npos) << unknown.err;
  for (const auto& r : {past, unknown}) EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
}

}  // namespace
}  // namespace kvlab
