// ratio=R on the budgeted policies (kv/score_policy.h, ScoreBudget::ratio): the budget in force as the
// stream grows, its floor and cap, the chunk and recent window that follow it, specs and errors. The
// stream invariants (slots held per head at every position) are in tests/golden/policy_property_test.cc.
#include <gtest/gtest.h>

#include <string>

#include "kvlab/kv/registry.h"
#include "kvlab/kv/score_policy.h"
#include "kvlab/util/error.h"

namespace kvlab {
namespace {

std::string ErrorOf(const std::string& spec) {
  try {
    MakePolicy(spec);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(PolicyRatio, BudgetFollowsTheTokensSeenBetweenFloorAndCap) {
  ScoreBudget b;
  b.ratio = 0.25;
  b.sinks = 2;
  b.recent = 4;
  b.chunk_follows = true;
  EXPECT_EQ(BudgetAt(b, 0).budget, 7u);   // sinks + recent + 1
  EXPECT_EQ(BudgetAt(b, 28).budget, 7u);  // ceil(7) = 7
  EXPECT_EQ(BudgetAt(b, 29).budget, 8u);  // ceil(7.25)
  EXPECT_EQ(BudgetAt(b, 400).budget, 100u);
  EXPECT_EQ(BudgetAt(b, 400).chunk, DefaultChunk(100, 2, 4));
  EXPECT_EQ(BudgetAt(b, 400).recent, 4u);  // a fixed recent window stays
  EXPECT_EQ(BudgetAt(b, 0).chunk, 0u);     // at the floor nothing is left to chunk
  b.budget = 64;                           // the cap
  EXPECT_EQ(BudgetAt(b, 400).budget, 64u);
  EXPECT_EQ(BudgetAt(b, 200).budget, 50u);
  // The product is taken a hair low, so that an exact multiple is not rounded up by floating point.
  ScoreBudget tenth;
  tenth.ratio = 0.1;
  EXPECT_EQ(BudgetAt(tenth, 30).budget, 3u);
  EXPECT_EQ(BudgetAt(tenth, 31).budget, 4u);
  // Without a ratio the budget does not move.
  ScoreBudget fixed;
  fixed.budget = 32;
  fixed.chunk = 4;
  EXPECT_EQ(BudgetAt(fixed, 1000).budget, 32u);
  EXPECT_EQ(BudgetAt(fixed, 1000).chunk, 4u);
}

TEST(PolicyRatio, WindowsAndSummariesFollowTheBudget) {
  ScoreBudget window;  // window:ratio=0.5,chunk=2
  window.ratio = 0.5;
  window.chunk = 2;
  window.recent_follows = true;
  EXPECT_EQ(BudgetAt(window, 100).budget, 50u);
  EXPECT_EQ(BudgetAt(window, 100).recent, 48u);
  EXPECT_EQ(BudgetAt(window, 2).budget, 1u);  // floor: one slot
  EXPECT_EQ(BudgetAt(window, 2).chunk, 0u);   // the chunk never takes the floor's slot
  EXPECT_EQ(BudgetAt(window, 2).recent, 1u);
  ScoreBudget cluster;  // cluster:ratio=0.5,sinks=4,summaries=16
  cluster.ratio = 0.5;
  cluster.sinks = 4;
  cluster.reserved = 16;
  cluster.recent_follows = true;
  EXPECT_EQ(BudgetAt(cluster, 10).budget, 21u);  // sinks + summaries + 1
  EXPECT_EQ(BudgetAt(cluster, 10).recent, 1u);
  EXPECT_EQ(BudgetAt(cluster, 200).recent, 80u);
}

TEST(PolicyRatio, SpecsRoundTrip) {
  for (const char* spec :
       {"h2o:ratio=0.25", "h2o:ratio=0.25,budget=64,sinks=4,recent=8", "tova:ratio=0.5,chunk=0",
        "knorm:ratio=0.75,recent=4,layers=pyramid,beta=20", "random:ratio=0.3,seed=0",
        "snapkv:ratio=0.5,recent=32,window=32,pool=7,every=0", "window:ratio=0.5",
        "window:ratio=0.5,budget=256,chunk=8", "sinks:ratio=0.25,sinks=4",
        "cluster:ratio=0.5,sinks=4,summaries=16,assign=kmeans,metric=cosine",
        "sketch:type=cms,width=512,depth=4,ratio=0.3,strategy=topk,seed=0",
        "sketch:type=cs,width=256,depth=4,ratio=0.3,budget=128,recent=8,strategy=topk,chunk=4,seed=0",
        "sketch:type=cms,width=512,depth=4,ratio=0.3,strategy=aggregate,summaries=16,assign=kmeans,"
        "metric=cosine,seed=0"}) {
    auto p = MakePolicy(spec);
    EXPECT_EQ(p->Spec(), spec);
    EXPECT_EQ(MakePolicy(p->Spec())->Spec(), spec);
  }
}

TEST(PolicyRatio, OnlyACapBoundsMemory) {
  EXPECT_EQ(MakePolicy("h2o:ratio=0.25")->MaxSlots(), KvPolicy::kUnbounded);
  EXPECT_EQ(MakePolicy("window:ratio=0.25")->MaxSlots(), KvPolicy::kUnbounded);
  EXPECT_EQ(MakePolicy("cluster:ratio=0.25")->MaxSlots(), KvPolicy::kUnbounded);
  EXPECT_EQ(MakePolicy("h2o:ratio=0.25,budget=64")->MaxSlots(), 64u);
  EXPECT_EQ(MakePolicy("cluster:ratio=0.25,budget=64")->MaxSlots(), 64u);
  // In a composite, the bounded part bounds the whole.
  EXPECT_EQ(MakePolicy("h2o:ratio=0.5+window:budget=32")->MaxSlots(), 32u);
}

TEST(PolicyRatio, BadRatiosAreOneLineErrorsNamingTheKey) {
  EXPECT_NE(ErrorOf("h2o:ratio=0").find("ratio=0 must be > 0"), std::string::npos) << ErrorOf("h2o:ratio=0");
  EXPECT_NE(ErrorOf("h2o:ratio=1.5").find("ratio"), std::string::npos);
  EXPECT_NE(ErrorOf("h2o:ratio=abc").find("ratio"), std::string::npos);
  EXPECT_NE(ErrorOf("h2o:sinks=4").find("needs budget=N"), std::string::npos);
  EXPECT_NE(ErrorOf("window:chunk=2").find("or ratio=R"), std::string::npos);
  EXPECT_NE(ErrorOf("h2o:ratio=0.5,layers=64:64").find("does not combine"), std::string::npos);
  EXPECT_NE(ErrorOf("h2o:ratio=0.5,budget=3,sinks=4").find("caps ratio=0.5 below"), std::string::npos);
  EXPECT_NE(ErrorOf("cluster:ratio=0.5,budget=16").find("caps ratio=0.5 below"), std::string::npos);
  EXPECT_NE(ErrorOf("sketch:ratio=0.5,topk=8").find("topk=N counts slots"), std::string::npos);
  for (const char* spec : {"h2o:ratio=0", "h2o:ratio=0.5,layers=64:64", "cluster:ratio=0.5,budget=16"}) {
    EXPECT_EQ(ErrorOf(spec).find('\n'), std::string::npos) << spec;
  }
}

}  // namespace
}  // namespace kvlab
