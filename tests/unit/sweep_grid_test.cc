// Sweep grids: expansion counts and order, canonical specs, seeds, codecs, skip_invalid, stable ids.
#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include "kvlab/sweep/grid.h"
#include "kvlab/util/error.h"
#include "test_assets.h"

namespace kvlab {
namespace {

namespace fs = std::filesystem;

// A config over two existing "model" files and one text (ExpandGrid only checks that they exist).
SweepConfig ConfigWith(const std::string& policies) {
  const fs::path dir = test::TempDir("sweep_grid");
  for (const char* f : {"m1.bin", "m2.bin", "t.txt"}) std::ofstream(dir / f) << "x";
  const std::string toml = "[data]\nmodels = [\"" + (dir / "m1.bin").string() + "\", \"" +
                           (dir / "m2.bin").string() + "\"]\ntexts = \"" + (dir / "t.txt").string() +
                           "\"\nctx = 512\n" + policies;
  return ParseSweepConfigText(toml, "cfg.toml");
}

std::string ErrorOf(const SweepConfig& c) {
  try {
    ExpandGrid(c);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(SweepGrid, CartesianProductInFileOrderModelMajor) {
  const SweepConfig c = ConfigWith(R"(
[[policy]]
name = "full"
[[policy]]
name = "h2o"
budget = ["1/8", "1/4", "1/2"]
recent = [8, 16]
[[policy]]
name = "sketch"
type = ["cms", "cs", "race"]
width = [128, 256]
budget = "1/8"
)");
  const std::vector<GridPoint> g = ExpandGrid(c);
  ASSERT_EQ(g.size(), 2u * (1 + 3 * 2 + 3 * 2));
  EXPECT_EQ(g[0].spec, "full");
  EXPECT_EQ(g[1].spec, "h2o:budget=64,recent=8");  // last key fastest
  EXPECT_EQ(g[2].spec, "h2o:budget=64,recent=16");
  EXPECT_EQ(g[3].spec, "h2o:budget=128,recent=8");
  EXPECT_EQ(g[6].spec, "h2o:budget=256,recent=16");
  // The sweep's seed (default 1) reaches policies with a seed key.
  EXPECT_EQ(g[7].spec.rfind("sketch:type=cms,width=128,", 0), 0u) << g[7].spec;
  EXPECT_NE(g[7].spec.find("seed=1"), std::string::npos) << g[7].spec;
  for (size_t i = 0; i < g.size(); ++i) EXPECT_EQ(g[i].model, c.models[i / 13]);
  std::set<std::string> ids;
  for (const GridPoint& p : g) ids.insert(p.id);
  EXPECT_EQ(ids.size(), g.size());
}

TEST(SweepGrid, IdsAreStableAndDependOnEveryIdentityField) {
  const SweepConfig c = ConfigWith("[[policy]]\nname = \"window\"\nbudget = 64\n");
  const std::vector<GridPoint> a = ExpandGrid(c), b = ExpandGrid(c);
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0].id, b[0].id);
  EXPECT_EQ(a[0].id.size(), 16u);
  EXPECT_NE(a[0].id, a[1].id);  // another model
  GridPoint p = a[0];
  SweepMetrics m = c.metrics;
  const std::string id = PointId(p, m);
  p.tokens += 1;
  EXPECT_NE(PointId(p, m), id);
  p = a[0];
  p.seed += 1;
  EXPECT_NE(PointId(p, m), id);
  m.fidelity = false;
  EXPECT_NE(PointId(a[0], m), id);
}

// Generation settings join the id only when generation is on, so a sweep without it keeps the ids (and the
// rows of its results file) it had before the metric existed; when on, every setting makes a new point.
TEST(SweepGrid, IdsDependOnGenerationSettingsOnlyWhenItIsOn) {
  const SweepConfig c = ConfigWith("[[policy]]\nname = \"window\"\nbudget = 64\n");
  const GridPoint p = ExpandGrid(c)[0];
  SweepMetrics m = c.metrics;
  const std::string off = PointId(p, m);
  EXPECT_FALSE(PointIdentity(p, m)["metrics"].contains("generation"));
  m.generation_lengths = {64};
  m.generation_prompts = 4;
  EXPECT_EQ(PointId(p, m), off);
  m.generation = true;
  const std::string on = PointId(p, m);
  EXPECT_NE(on, off);
  EXPECT_EQ(PointIdentity(p, m)["metrics"]["generation"],
            (nlohmann::json{{"prompt_tokens", 50}, {"lengths", {64}}, {"prompts", 4}}));
  SweepMetrics other = m;
  other.generation_lengths = {64, 128};
  EXPECT_NE(PointId(p, other), on);
  other = m;
  other.generation_prompt_tokens = 20;
  EXPECT_NE(PointId(p, other), on);
  other = m;
  other.generation_prompts = 5;
  EXPECT_NE(PointId(p, other), on);
}

TEST(SweepGrid, CodecsComposeQuantAndFullBecomesQuantAlone) {
  const SweepConfig c = ConfigWith(R"(
[[policy]]
name = "full"
codec = ["f32", "int8", "int4"]
[[policy]]
name = "h2o"
budget = 64
codec = "int4"
quant_group = 16
)");
  const std::vector<GridPoint> g = ExpandGrid(c);
  ASSERT_EQ(g.size(), 8u);
  EXPECT_EQ(g[0].spec, "full");
  EXPECT_EQ(g[1].spec, "quant:k=int8,v=int8,group=32,residual=0");
  EXPECT_EQ(g[2].spec, "quant:k=int4,v=int4,group=32,residual=0");
  EXPECT_EQ(g[3].spec, "h2o:budget=64+quant:k=int4,v=int4,group=16,residual=0");
  const nlohmann::json d = DescribeSpec(g[3].spec, 512);
  EXPECT_EQ(d["policy_name"], "h2o+quant");
  EXPECT_EQ(d["budget"], 64);
  EXPECT_DOUBLE_EQ(d["budget_fraction"].get<double>(), 0.125);
  EXPECT_EQ(d["codec"], "int4");
  EXPECT_TRUE(d["sketch_type"].is_null());
  const nlohmann::json q = DescribeSpec(g[1].spec, 512);
  EXPECT_TRUE(q["budget"].is_null());
  EXPECT_EQ(q["codec"], "int8");
}

TEST(SweepGrid, DescribeSketch) {
  const nlohmann::json d = DescribeSpec(
      "sketch:type=cs,width=256,depth=3,budget=128,recent=16,strategy=topk,topk=100,seed=1", 512);
  EXPECT_EQ(d["policy_name"], "sketch");
  EXPECT_EQ(d["sketch_type"], "cs");
  EXPECT_EQ(d["sketch_width"], 256);
  EXPECT_EQ(d["sketch_depth"], 3);
  EXPECT_EQ(d["sketch_strategy"], "topk");
  EXPECT_EQ(d["sketch_topk"], 100);
  EXPECT_DOUBLE_EQ(d["budget_fraction"].get<double>(), 0.25);
}

// A ratio keeps that fraction of the context: its row says so in `ratio` and `budget_fraction`; a cap is
// the row's budget.
TEST(SweepGrid, DescribeRatio) {
  const nlohmann::json d = DescribeSpec("h2o:ratio=0.25,recent=8", 512);
  EXPECT_DOUBLE_EQ(d["ratio"].get<double>(), 0.25);
  EXPECT_TRUE(d["budget"].is_null());
  EXPECT_DOUBLE_EQ(d["budget_fraction"].get<double>(), 0.25);
  const nlohmann::json capped = DescribeSpec("h2o:ratio=0.25,budget=64", 512);
  EXPECT_DOUBLE_EQ(capped["ratio"].get<double>(), 0.25);
  EXPECT_EQ(capped["budget"], 64);
  EXPECT_DOUBLE_EQ(capped["budget_fraction"].get<double>(), 0.125);
  EXPECT_TRUE(DescribeSpec("h2o:budget=64", 512)["ratio"].is_null());
}

TEST(SweepGrid, BadSpecsFailNamingTheEntryUnlessSkipped) {
  const std::string bad_key = "[[policy]]\nname = \"h2o\"\nbudget = 64\nrecnt = 8\n";
  std::string e = ErrorOf(ConfigWith(bad_key));
  EXPECT_NE(e.find("cfg.toml:5: policy[1]"), std::string::npos) << e;
  EXPECT_NE(e.find("recnt"), std::string::npos) << e;
  e = ErrorOf(ConfigWith("[[policy]]\nname = \"nosuch\"\nbudget = 64\n"));
  EXPECT_NE(e.find("policy[1]"), std::string::npos) << e;
  EXPECT_NE(e.find("nosuch"), std::string::npos) << e;
  e = ErrorOf(ConfigWith("[[policy]]\nspec = \"h2o:budget=64,bogus=1\"\n"));
  EXPECT_NE(e.find("bogus"), std::string::npos) << e;

  // topk=128 does not fit budget 64: an error, or dropped with skip_invalid.
  const std::string grid = "[[policy]]\nname = \"sketch\"\nbudget = [64, 256]\ntopk = [32, 128]\n";
  e = ErrorOf(ConfigWith(grid));
  EXPECT_NE(e.find("topk=128"), std::string::npos) << e;
  std::vector<std::string> notes;
  const std::vector<GridPoint> g = ExpandGrid(ConfigWith(grid + "skip_invalid = true\n"), &notes);
  EXPECT_EQ(g.size(), 2u * 3);
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("skipped 1 combinations"), std::string::npos) << notes[0];
  // An entry with nothing valid left is an error even with skip_invalid.
  e = ErrorOf(ConfigWith("[[policy]]\nname = \"sketch\"\nbudget = 64\ntopk = 128\nskip_invalid = true\n"));
  EXPECT_NE(e.find("every combination"), std::string::npos) << e;
}

TEST(SweepGrid, DuplicateSpecsAcrossEntriesRunOnce) {
  const SweepConfig c = ConfigWith(
      "[[policy]]\nname = \"window\"\nbudget = [64, 128]\n[[policy]]\nspec = [\"window:budget=64\", "
      "\"full\"]\n");
  std::vector<std::string> notes;
  const std::vector<GridPoint> g = ExpandGrid(c, &notes);
  EXPECT_EQ(g.size(), 2u * 3);
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("1 specs already in an earlier entry"), std::string::npos) << notes[0];
}

TEST(SweepGrid, MissingModelsAndTextsFailNamingTheKey) {
  SweepConfig c = ConfigWith("[[policy]]\nname = \"full\"\n");
  c.models.push_back("/nonexistent/model.bin");
  std::string e = ErrorOf(c);
  EXPECT_NE(e.find("cfg.toml: data.models: /nonexistent/model.bin"), std::string::npos) << e;
  c = ConfigWith("[[policy]]\nname = \"full\"\n");
  c.texts = {"/nonexistent/text.txt"};
  e = ErrorOf(c);
  EXPECT_NE(e.find("cfg.toml: data.texts: /nonexistent/text.txt: no such text file"), std::string::npos) << e;
}

// data.texts takes what --text takes, WikiText articles included: the point keeps the article index and
// the row's text is the name as written.
TEST(SweepGrid, TextsMayBeWikiTextArticles) {
  KVLAB_REQUIRE_ASSETS();
  SweepConfig c = ConfigWith("[[policy]]\nname = \"full\"\n");
  c.texts = {"wikitext-2:2"};
  const std::vector<GridPoint> g = ExpandGrid(c);
  ASSERT_FALSE(g.empty());
  EXPECT_EQ(g[0].text, "wikitext-2:2");
  EXPECT_EQ(g[0].text_source.path.filename(), "wiki.test.raw");
  ASSERT_TRUE(g[0].text_source.article.has_value());
  EXPECT_EQ(*g[0].text_source.article, 2u);
}

}  // namespace
}  // namespace kvlab
