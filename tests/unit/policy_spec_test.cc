// Spec strings: what parses, and every malformed spec rejected with a message naming the offending part.
#include <gtest/gtest.h>

#include "kvlab/kv/registry.h"
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

TEST(PolicySpec, ParsesAndRoundTripsCanonicalSpecs) {
  for (const char* spec : {"full", "window:budget=64", "sinks:budget=64,sinks=4", "h2o:budget=128,recent=32",
                           "tova:budget=16,recent=4", "knorm:budget=16,recent=4", "random:budget=16,seed=3"}) {
    auto p = MakePolicy(spec);
    EXPECT_EQ(p->Spec(), spec);
    EXPECT_EQ(MakePolicy(p->Spec())->Spec(), spec);  // canonical form is stable
  }
  EXPECT_EQ(MakePolicy("h2o:recent=8,budget=32+window:budget=24")->Spec(), "h2o:budget=32,recent=8+window:budget=24");
  EXPECT_EQ(MakePolicy("h2o:budget=32+window:budget=24")->MaxSlots(), 24u);
}

TEST(PolicySpec, RejectsBadSpecsNamingTheOffendingPart) {
  EXPECT_NE(ErrorOf("").find("empty"), std::string::npos);
  EXPECT_NE(ErrorOf("lru:budget=4").find("unknown policy 'lru'"), std::string::npos);
  EXPECT_NE(ErrorOf("h2o:budget=64,recnt=8").find("unknown key 'recnt'"), std::string::npos);
  EXPECT_NE(ErrorOf("h2o:budget=abc").find("budget=abc"), std::string::npos);
  EXPECT_NE(ErrorOf("h2o:budget=0").find("budget=0"), std::string::npos);
  EXPECT_NE(ErrorOf("h2o:recent=8").find("needs budget"), std::string::npos);
  EXPECT_NE(ErrorOf("h2o:budget=16,recent=8,sinks=10").find("impossible budget"), std::string::npos);
  EXPECT_NE(ErrorOf("sinks:budget=4,sinks=4").find("impossible budget"), std::string::npos);
  EXPECT_NE(ErrorOf("h2o:budget").find("not key=value"), std::string::npos);
  EXPECT_NE(ErrorOf("h2o:budget=8,budget=9").find("given twice"), std::string::npos);
  EXPECT_NE(ErrorOf("h2o:budget=8+").find("empty part"), std::string::npos);
  EXPECT_NE(ErrorOf("full:budget=8").find("unknown key 'budget'"), std::string::npos);
  for (const char* bad : {"", "lru", "h2o:budget=-1"}) EXPECT_EQ(ErrorOf(bad).rfind("--kv: ", 0), 0u) << bad;
}

}  // namespace
}  // namespace kvlab
