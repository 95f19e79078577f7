// Attention statistics, head types, channel outliers and trace quality measures on hand cases.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "kvlab/analysis/attention_stats.h"
#include "kvlab/analysis/attention_summary.h"
#include "kvlab/analysis/channel_stats.h"
#include "kvlab/analysis/head_types.h"
#include "kvlab/analysis/output.h"
#include "kvlab/analysis/quality.h"
#include "kvlab/analysis/vector_stats.h"

namespace kvlab::analysis {
namespace {

TEST(AttentionStats, EntropyAndSparsityHandCases) {
  const std::vector<float> uniform(4, 0.25f), onehot = {0, 1, 0, 0}, mixed = {0.5f, 0.3f, 0.2f, 0.0f};
  EXPECT_NEAR(Entropy(uniform), std::log(4.0), 1e-7);
  EXPECT_NEAR(NormalizedEntropy(uniform), 1.0, 1e-7);
  EXPECT_EQ(Entropy(onehot), 0.0);
  EXPECT_NEAR(Entropy(mixed), -(0.5 * std::log(0.5) + 0.3 * std::log(0.3) + 0.2 * std::log(0.2)), 1e-6);
  EXPECT_DOUBLE_EQ(SparsityBelow(mixed, 0.25f), 0.5);    // 0.2 and 0
  EXPECT_DOUBLE_EQ(SparsityBelow(uniform, 0.25f), 0.0);  // strictly below
  EXPECT_EQ(SlotsForMass(mixed, 0.8), 2u);
  EXPECT_EQ(SlotsForMass(mixed, 0.81), 3u);
  EXPECT_EQ(SlotsForMass(onehot, 0.99), 1u);
}

// [T][T] causal maps: sink (all mass on position 0), local (mass on the query itself), global (uniform).
std::vector<float> SyntheticMap(size_t T, const std::string& kind) {
  std::vector<float> m(T * T, 0.0f);
  for (size_t q = 0; q < T; ++q) {
    for (size_t k = 0; k <= q; ++k) {
      if (kind == "sink") m[q * T + k] = k == 0 ? 1.0f : 0.0f;
      if (kind == "local") m[q * T + k] = k == q ? 1.0f : 0.0f;
      if (kind == "global") m[q * T + k] = 1.0f / static_cast<float>(q + 1);
    }
  }
  return m;
}

TEST(HeadTypes, SyntheticPatternsAreClassified) {
  const size_t T = 64;
  const HeadMass sink = MeasureHeadMass(SyntheticMap(T, "sink"), T);
  EXPECT_DOUBLE_EQ(sink.sink, 1.0);
  EXPECT_DOUBLE_EQ(sink.local, 0.0);
  EXPECT_EQ(ClassifyHead(sink), HeadType::kSink);
  const HeadMass local = MeasureHeadMass(SyntheticMap(T, "local"), T);
  EXPECT_DOUBLE_EQ(local.local, 1.0);
  EXPECT_EQ(ClassifyHead(local), HeadType::kLocal);
  const HeadMass global = MeasureHeadMass(SyntheticMap(T, "global"), T);
  EXPECT_EQ(ClassifyHead(global), HeadType::kGlobal);
  // Query q >= 16 puts 4/(q+1) on sinks and 8/(q+1) on the window: both shares below one half.
  EXPECT_LT(global.sink, 0.25);
  EXPECT_LT(global.local, 0.5);
  EXPECT_EQ(global.queries, T - 16);
  EXPECT_STREQ(HeadTypeName(HeadType::kLocal), "local");
}

TEST(AttentionSummary, UniformAndOneHotMaps) {
  const size_t T = 32;
  const float thr[] = {0.01f};
  const AttentionSummary u = SummarizeAttention(SyntheticMap(T, "global"), T, thr);
  EXPECT_NEAR(u.normalized_entropy, 1.0, 1e-6);
  EXPECT_EQ(u.queries, T - 1);
  const AttentionSummary s = SummarizeAttention(SyntheticMap(T, "sink"), T, thr);
  EXPECT_EQ(s.entropy, 0.0);
  // One slot of q+1 holds all the mass: mean over q = 1..31 of 1/(q+1).
  double expected = 0;
  for (size_t q = 1; q < T; ++q) expected += 1.0 / (q + 1);
  EXPECT_NEAR(s.needed_90, expected / (T - 1), 1e-12);
}

TEST(ChannelStats, PlantedOutlierChannelIsFound) {
  std::mt19937 rng(5);
  std::normal_distribution<float> n(0.0f, 1.0f);
  const size_t rows = 200, channels = 16;
  std::vector<float> x(rows * channels);
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c < channels; ++c) x[r * channels + c] = n(rng) * (c == 11 ? 20.0f : 1.0f);
  }
  const ChannelStats s = MeasureChannels(x, channels);
  EXPECT_EQ(s.outliers, std::vector<size_t>{11});
  EXPECT_GT(s.max_over_median, 10.0);
  // Without the planted channel: no outliers.
  for (size_t r = 0; r < rows; ++r) x[r * channels + 11] /= 20.0f;
  EXPECT_TRUE(MeasureChannels(x, channels).outliers.empty());
}

TEST(ChannelStats, SparsityAndMagnitudeHandCase) {
  // Two rows, two channels: channel 0 = {1, -3}, channel 1 = {0, 0}. Global rms = sqrt(10/4).
  const std::vector<float> x = {1, 0, -3, 0};
  const ChannelStats s = MeasureChannels(x, 2);
  EXPECT_DOUBLE_EQ(s.mean_abs[0], 2.0);
  EXPECT_DOUBLE_EQ(s.max_abs[0], 3.0);
  EXPECT_DOUBLE_EQ(s.rms[0], std::sqrt(5.0));
  EXPECT_DOUBLE_EQ(s.sparsity[0], 0.0);
  EXPECT_DOUBLE_EQ(s.sparsity[1], 1.0);
}

TEST(VectorStats, CosineAndSummary) {
  const float a[] = {1, 0}, b[] = {0, 2}, c[] = {3, 0}, z[] = {0, 0};
  EXPECT_DOUBLE_EQ(Cosine(a, b, 2), 0.0);
  EXPECT_DOUBLE_EQ(Cosine(a, c, 2), 1.0);
  EXPECT_DOUBLE_EQ(Cosine(a, z, 2), 0.0);
  const Summary s = Summarize({4, 1, 3, 2});
  EXPECT_DOUBLE_EQ(s.mean, 2.5);
  EXPECT_DOUBLE_EQ(s.min, 1);
  EXPECT_DOUBLE_EQ(s.max, 4);
}

KvTrace TinyTrace(std::vector<float> logprobs, std::vector<int32_t> ids) {
  KvTrace t;
  t.tokens = ids.size();
  t.vocab = logprobs.size() / ids.size();
  t.ids = std::move(ids);
  t.logprobs = std::move(logprobs);
  return t;
}

TEST(Quality, PerplexityAndKlHandCase) {
  const float l2 = std::log(0.5f);
  // Two tokens, vocab 2: after token 0 the reference says (0.5, 0.5); the next id is 1.
  const KvTrace ref = TinyTrace({l2, l2, l2, l2}, {0, 1});
  const Quality q = Perplexity(ref);
  EXPECT_NEAR(q.ppl, 2.0, 1e-6);
  const Quality same = Compare(ref, ref);
  EXPECT_EQ(same.kl_mean, 0.0);
  EXPECT_EQ(same.top1, 1.0);
  const KvTrace test = TinyTrace({std::log(0.25f), std::log(0.75f), l2, l2}, {0, 1});
  const Quality d = Compare(ref, test);
  EXPECT_NEAR(d.kl_mean, 0.5 * std::log(0.5 / 0.25) + 0.5 * std::log(0.5 / 0.75), 1e-6);
  EXPECT_NEAR(d.ppl, 1.0 / 0.75, 1e-5);
}

TEST(AnalysisOutput, CsvQuotesCellsThatNeedIt) {
  Table t;
  t.columns = {"a", "b"};
  t.Add({1, "x,y"});
  t.Add({0.5, nullptr});
  t.Add({true, "say \"hi\""});
  EXPECT_EQ(ToCsv(t), "a,b\n1,\"x,y\"\n0.5,\ntrue,\"say \"\"hi\"\"\"\n");
}

}  // namespace
}  // namespace kvlab::analysis
