// Reductions behind `kvlab ppl --vs-full` (docs/METRICS.md): log-softmax, KL, argmax, median, p99.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "kvlab/eval/distribution_stats.h"

namespace kvlab {
namespace {

TEST(DistributionStats, LogSoftmaxIsStableAndNormalized) {
  std::vector<double> lp;
  const std::vector<float> logits = {0.0f, static_cast<float>(std::log(3.0))};
  LogSoftmax(logits, lp);
  EXPECT_NEAR(std::exp(lp[0]), 0.25, 1e-7);
  EXPECT_NEAR(std::exp(lp[1]), 0.75, 1e-7);
  // Huge logits do not overflow.
  const std::vector<float> big = {1000.0f, 1000.0f};
  LogSoftmax(big, lp);
  EXPECT_NEAR(lp[0], std::log(0.5), 1e-12);
}

TEST(DistributionStats, KlMatchesClosedFormAndIsZeroOnIdentity) {
  const std::vector<double> p = {std::log(0.5), std::log(0.5)}, q = {std::log(0.25), std::log(0.75)};
  EXPECT_NEAR(KlFromLogProbs(p, q), 0.5 * std::log(2.0) + 0.5 * std::log(2.0 / 3.0), 1e-12);
  EXPECT_EQ(KlFromLogProbs(q, q), 0.0);
  EXPECT_GT(KlFromLogProbs(q, p), 0.0);
  // A zero-probability token of P contributes nothing even where Q is tiny.
  const std::vector<double> p0 = {0.0, -INFINITY}, q0 = {std::log(0.5), std::log(0.5)};
  EXPECT_NEAR(KlFromLogProbs(p0, q0), std::log(2.0), 1e-12);
}

TEST(DistributionStats, ArgmaxTakesTheFirstOfTies) {
  EXPECT_EQ(ArgmaxIndex(std::vector<double>{1, 3, 3, 2}), 1);
  EXPECT_EQ(ArgmaxIndex(std::vector<double>{-1, -2}), 0);
}

TEST(DistributionStats, MedianAndNearestRankQuantile) {
  std::vector<double> odd = {3, 1, 2}, even = {4, 1, 3, 2};
  EXPECT_EQ(Median(odd), 2.0);
  EXPECT_EQ(Median(even), 2.5);
  std::vector<double> hundred, ten;
  for (int i = 100; i >= 1; --i) hundred.push_back(i);
  for (int i = 1; i <= 10; ++i) ten.push_back(i);
  EXPECT_EQ(NearestRankQuantile(hundred, 0.99), 99.0);
  EXPECT_EQ(NearestRankQuantile(ten, 0.99), 10.0);
  EXPECT_EQ(NearestRankQuantile(ten, 0.5), 5.0);
  std::vector<double> none;
  EXPECT_EQ(Median(none), 0.0);
}

}  // namespace
}  // namespace kvlab
