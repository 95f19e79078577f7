#include <gtest/gtest.h>

#include <map>
#include <vector>

#include "kvlab/gen/sampler.h"
#include "kvlab/util/error.h"

namespace kvlab {
namespace {

TEST(Sampler, GreedyPicksArgmaxLowestIdOnTies) {
  SamplerConfig c;
  c.temperature = 0;
  Sampler s(c);
  std::vector<float> logits = {0.1f, 3.0f, 3.0f, -1.0f};
  EXPECT_EQ(s.Sample(logits, {}), 1);
}

TEST(Sampler, TopKOneIsGreedyAndSeedIsDeterministic) {
  SamplerConfig c;
  c.temperature = 1.0f;
  c.top_k = 1;
  std::vector<float> logits = {0.5f, 0.2f, 2.0f, 1.9f};
  Sampler s(c);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(s.Sample(logits, {}), 2);
  c.top_k = 0;
  c.top_p = 1.0f;
  c.seed = 42;
  Sampler a(c), b(c);
  for (int i = 0; i < 50; ++i) {
    std::vector<float> l1 = logits, l2 = logits;
    EXPECT_EQ(a.Sample(l1, {}), b.Sample(l2, {}));
  }
}

TEST(Sampler, FrequenciesFollowSoftmaxAndTopPCutsTheTail) {
  SamplerConfig c;
  c.temperature = 1.0f;
  c.top_k = 0;
  c.top_p = 1.0f;
  c.seed = 1;
  Sampler s(c);
  const std::vector<float> logits = {std::log(0.5f), std::log(0.3f), std::log(0.2f)};
  std::map<int, int> counts;
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    std::vector<float> l = logits;
    ++counts[s.Sample(l, {})];
  }
  EXPECT_NEAR(counts[0] / double(n), 0.5, 0.02);
  EXPECT_NEAR(counts[1] / double(n), 0.3, 0.02);
  c.top_p = 0.7f;  // 0.5 + 0.3 reaches 0.7: token 2 never drawn
  Sampler t(c);
  for (int i = 0; i < 2000; ++i) {
    std::vector<float> l = logits;
    EXPECT_NE(t.Sample(l, {}), 2);
  }
}

TEST(Sampler, RepetitionPenaltyDemotesSeenTokens) {
  SamplerConfig c;
  c.temperature = 0;
  c.repeat_penalty = 2.0f;
  Sampler s(c);
  std::vector<float> logits = {1.0f, 1.5f};
  const std::vector<int32_t> history = {1};
  EXPECT_EQ(s.Sample(logits, history), 0);  // 1.5 / 2 < 1.0
}

TEST(Sampler, PenaltyDoesNotLeakIntoTheNextCall) {
  SamplerConfig c;
  c.temperature = 0;
  c.repeat_penalty = 2.0f;
  Sampler s(c);
  std::vector<float> logits = {1.0f, 1.5f};
  const std::vector<int32_t> history = {1, 1};
  EXPECT_EQ(s.Sample(logits, history), 0);
  EXPECT_FLOAT_EQ(logits[1], 0.75f);  // penalized once, not once per occurrence
  logits = {1.0f, 1.5f};
  EXPECT_EQ(s.Sample(logits, std::vector<int32_t>{0}), 1);  // token 1 is no longer in the window
  EXPECT_FLOAT_EQ(logits[1], 1.5f);
}

TEST(Sampler, RejectsOutOfRangeSettings) {
  SamplerConfig c;
  c.top_p = 0.0f;
  EXPECT_THROW(Sampler{c}, Error);
  c = SamplerConfig{};
  c.temperature = -1;
  EXPECT_THROW(Sampler{c}, Error);
}

}  // namespace
}  // namespace kvlab
