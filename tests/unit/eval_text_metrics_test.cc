// BLEU / ROUGE-L over token ids (docs/METRICS.md) against cases worked out by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "kvlab/eval/text_metrics.h"

namespace kvlab {
namespace {

using Ids = std::vector<int32_t>;

TEST(TextMetrics, BleuOfIdenticalSequencesIsOne) {
  const Ids a = {5, 6, 7, 8, 9, 10};
  EXPECT_DOUBLE_EQ(SentenceBleu(a, a), 1.0);
  EXPECT_DOUBLE_EQ(CorpusBleu({a, {1, 2}}, {a, {1, 2}}), 1.0);
}

TEST(TextMetrics, BleuOfOneSubstitutionMatchesHandComputation) {
  // 1-grams 3/4; 2-grams 2/3 -> (2+1)/(3+1); 3-grams 1/2 -> 2/3; 4-grams 0/1 -> 1/2; equal lengths: BP 1.
  const double expected = std::pow(0.75 * 0.75 * (2.0 / 3.0) * 0.5, 0.25);
  EXPECT_NEAR(SentenceBleu(Ids{1, 2, 3, 4}, Ids{1, 2, 3, 5}), expected, 1e-12);
}

TEST(TextMetrics, BleuAppliesBrevityPenaltyAndClipping) {
  // Precisions all 1 (n >= 3: no n-grams, smoothed 1/1), C = 2 < R = 4: BP = exp(1 - 2).
  EXPECT_NEAR(SentenceBleu(Ids{1, 2}, Ids{1, 2, 3, 4}), std::exp(-1.0), 1e-12);
  // "7 7 7 7" vs "7 1 2 3": the unigram 7 counts once (clipped): 1/4; 2-grams (0+1)/(3+1); 3-grams 1/3;
  // 4-grams 1/2.
  EXPECT_NEAR(SentenceBleu(Ids{7, 7, 7, 7}, Ids{7, 1, 2, 3}), std::pow(0.25 * 0.25 * (1.0 / 3.0) * 0.5, 0.25),
              1e-12);
  EXPECT_EQ(SentenceBleu(Ids{8, 9}, Ids{1, 2, 3}), 0.0);  // no unigram in common
  EXPECT_EQ(SentenceBleu(Ids{}, Ids{1, 2, 3}), 0.0);
}

TEST(TextMetrics, CorpusBleuSumsCountsBeforeCombining) {
  // Pair A identical (4 tokens), pair B "5 6" vs "5 7": 1-grams 5/6, 2-grams (3+1)/(4+1), 3- and 4-grams 1.
  const double expected = std::pow((5.0 / 6.0) * (4.0 / 5.0), 0.25);
  EXPECT_NEAR(CorpusBleu({{1, 2, 3, 4}, {5, 6}}, {{1, 2, 3, 4}, {5, 7}}), expected, 1e-12);
  // Not the mean of the sentence scores.
  const double mean =
      0.5 * (SentenceBleu(Ids{1, 2, 3, 4}, Ids{1, 2, 3, 4}) + SentenceBleu(Ids{5, 6}, Ids{5, 7}));
  EXPECT_GT(std::abs(expected - mean), 1e-3);
}

TEST(TextMetrics, LcsAndRougeL) {
  EXPECT_EQ(LcsLength(Ids{1, 2, 3, 4}, Ids{1, 3, 4, 5, 6}), 3);
  EXPECT_EQ(LcsLength(Ids{1, 2, 3}, Ids{3, 2, 1}), 1);
  EXPECT_EQ(LcsLength(Ids{1, 2, 1, 2}, Ids{2, 1, 2, 1}), 3);
  EXPECT_EQ(LcsLength(Ids{}, Ids{1}), 0);
  // P = 3/4, R = 3/5, F = 2PR/(P+R) = 2/3.
  EXPECT_NEAR(RougeL(Ids{1, 2, 3, 4}, Ids{1, 3, 4, 5, 6}), 2.0 / 3.0, 1e-12);
  EXPECT_DOUBLE_EQ(RougeL(Ids{4, 5, 6}, Ids{4, 5, 6}), 1.0);
  EXPECT_EQ(RougeL(Ids{1, 2}, Ids{3, 4}), 0.0);
  EXPECT_EQ(RougeL(Ids{}, Ids{3, 4}), 0.0);
  EXPECT_EQ(RougeL(Ids{}, Ids{}), 1.0);
}

TEST(TextMetrics, CommonPrefix) {
  EXPECT_EQ(CommonPrefixLength(Ids{1, 2, 3, 9}, Ids{1, 2, 3, 4, 5}), 3);
  EXPECT_EQ(CommonPrefixLength(Ids{2}, Ids{1}), 0);
  EXPECT_EQ(CommonPrefixLength(Ids{1, 2}, Ids{1, 2}), 2);
}

}  // namespace
}  // namespace kvlab
