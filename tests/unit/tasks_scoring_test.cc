// Scoring task outputs: RULER's string_match_all (case-insensitive containment, averaged over the answers)
// and the exact-prefix rule of single-answer tasks.
#include <gtest/gtest.h>

#include "kvlab/tasks/task_scoring.h"

namespace kvlab {
namespace {

TEST(TaskScoring, AllCountsTheFractionOfAnswersFoundIgnoringCase) {
  const std::vector<std::string> answers = {"1234567", "ALPHA-beta", "9876543", "uuid-x"};
  EXPECT_DOUBLE_EQ(ScoreTaskOutput(ScoreKind::kAll, "The numbers are 1234567 and 9876543.", answers), 0.5);
  EXPECT_DOUBLE_EQ(ScoreTaskOutput(ScoreKind::kAll, "alpha-BETA", answers), 0.25);
  EXPECT_DOUBLE_EQ(ScoreTaskOutput(ScoreKind::kAll, "1234567 alpha-beta 9876543 UUID-X", answers), 1.0);
  EXPECT_DOUBLE_EQ(ScoreTaskOutput(ScoreKind::kAll, "", answers), 0.0);
  // Containment, not word match (RULER: r.lower() in pred.lower()): a longer number still holds it.
  EXPECT_DOUBLE_EQ(ScoreTaskOutput(ScoreKind::kAll, "x12345678", {"1234567"}), 1.0);
  EXPECT_DOUBLE_EQ(ScoreTaskOutput(ScoreKind::kAll, "123456", {"1234567"}), 0.0);
}

TEST(TaskScoring, ExactNeedsTheAnswerFirstAfterLeadingWhitespace) {
  EXPECT_DOUBLE_EQ(ScoreTaskOutput(ScoreKind::kExact, "4821", {"4821"}), 1.0);
  EXPECT_DOUBLE_EQ(ScoreTaskOutput(ScoreKind::kExact, " \n4821. more", {"4821"}), 1.0);
  EXPECT_DOUBLE_EQ(ScoreTaskOutput(ScoreKind::kExact, "48210", {"4821"}), 1.0);  // a prefix match
  EXPECT_DOUBLE_EQ(ScoreTaskOutput(ScoreKind::kExact, "no: 4821", {"4821"}), 0.0);
  EXPECT_DOUBLE_EQ(ScoreTaskOutput(ScoreKind::kExact, "482", {"4821"}), 0.0);
  EXPECT_DOUBLE_EQ(ScoreTaskOutput(ScoreKind::kExact, "abc", {"ABC"}), 0.0);  // case counts
}

TEST(TaskScoring, NoAnswersScoreZero) {
  EXPECT_DOUBLE_EQ(ScoreTaskOutput(ScoreKind::kAll, "anything", {}), 0.0);
  EXPECT_DOUBLE_EQ(ScoreTaskOutput(ScoreKind::kExact, "anything", {}), 0.0);
}

}  // namespace
}  // namespace kvlab
