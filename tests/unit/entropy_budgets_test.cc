// Entropy budgets (kv/entropy_budgets.h): the split of a fixed total by weight, with floors and caps, and
// the per-head budgets that follow the attention entropy of synthetic rows. The stream invariants (no head
// above its bound, the model's total kept) are in tests/golden/policy_property_test.cc.
#include "kvlab/kv/entropy_budgets.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <vector>

#include "kvlab/kv/registry.h"
#include "kvlab/util/error.h"

namespace kvlab {
namespace {

size_t Sum(const std::vector<size_t>& v) { return std::accumulate(v.begin(), v.end(), size_t{0}); }

TEST(SplitByWeight, ProportionalAboveTheFloorsAndWholeSlots) {
  // 100 slots, floors of 10: 70 left, shared 1:2:4.
  const auto b = SplitByWeight({1.0, 2.0, 4.0}, {10, 10, 10}, {100, 100, 100}, 100);
  EXPECT_EQ(Sum(b), 100u);
  EXPECT_EQ(b[0], 20u);
  EXPECT_EQ(b[1], 30u);
  EXPECT_EQ(b[2], 50u);
  // Remainders go to the largest fractional parts: 10 left over 3 equal weights.
  const auto r = SplitByWeight({1.0, 1.0, 1.0}, {0, 0, 0}, {50, 50, 50}, 10);
  EXPECT_EQ(Sum(r), 10u);
  for (size_t x : r) EXPECT_TRUE(x == 3 || x == 4) << x;
}

TEST(SplitByWeight, CapsPassTheRestOnAndZeroWeightsKeepTheirFloor) {
  // The heavy unit is capped at 30; what it cannot take goes to the others by their weights.
  const auto b = SplitByWeight({10.0, 1.0, 1.0}, {5, 5, 5}, {30, 100, 100}, 90);
  EXPECT_EQ(b[0], 30u);
  EXPECT_EQ(b[1] + b[2], 60u);
  EXPECT_EQ(b[1], b[2]);
  const auto z = SplitByWeight({0.0, 1.0}, {5, 5}, {100, 100}, 40);
  EXPECT_EQ(z[0], 5u);
  EXPECT_EQ(z[1], 35u);
  // All capped: the caps, and less than the total.
  const auto c = SplitByWeight({1.0, 1.0}, {5, 5}, {12, 12}, 100);
  EXPECT_EQ(c[0], 12u);
  EXPECT_EQ(c[1], 12u);
}

// A row over n slots: uniform (entropy ln n) or all on one slot (entropy 0).
struct Row {
  std::vector<float> probs;
  std::vector<SlotMeta> slots;
  AttentionRow Of(size_t layer, size_t kv_head, int32_t pos) const {
    return AttentionRow{layer, kv_head, kv_head, pos, probs, slots};
  }
};
Row MakeRow(size_t n, bool spread) {
  Row r;
  r.probs.assign(n, spread ? 1.0f / static_cast<float>(n) : 0.0f);
  if (!spread) r.probs[n - 1] = 1.0f;
  for (size_t i = 0; i < n; ++i) r.slots.push_back({static_cast<int32_t>(i), 1});
  return r;
}

TEST(EntropyBudgets, SpreadAttentionGetsMoreSlotsUnderTheSameTotal) {
  EntropyBudgets e;
  e.Bind(/*layers=*/2, /*kv_heads=*/2, {.heads = true, .layers = true}, /*every=*/8, /*cap=*/4);
  const Row spread = MakeRow(64, true), peaked = MakeRow(64, false), half = MakeRow(8, true);
  // Only the rows at position % 8 == 7 count.
  e.Observe(spread.Of(0, 0, 7));
  e.Observe(peaked.Of(0, 1, 7));
  e.Observe(half.Of(1, 0, 7));
  e.Observe(spread.Of(1, 1, 7));
  e.Observe(peaked.Of(1, 1, 8));  // not sampled
  EXPECT_NEAR(e.MeanEntropy(0, 0), std::log(64.0), 1e-6);
  EXPECT_NEAR(e.MeanEntropy(0, 1), 0.0, 1e-9);
  EXPECT_NEAR(e.MeanEntropy(1, 1), std::log(64.0), 1e-6);
  e.Update(/*tokens_seen=*/200, /*uniform=*/32, /*floor=*/5);
  const size_t total = e.Budget(0, 0) + e.Budget(0, 1) + e.Budget(1, 0) + e.Budget(1, 1);
  EXPECT_EQ(total, 4u * 32);
  EXPECT_EQ(e.Budget(0, 1), 5u);  // entropy 0: the floor
  EXPECT_EQ(e.Budget(0, 0), e.Budget(1, 1));
  EXPECT_GT(e.Budget(0, 0), e.Budget(1, 0));  // ln 64 > ln 8
  EXPECT_LE(e.Budget(0, 0), e.HeadBound(32, 5));
  // Never more than the tokens seen, however spread.
  e.Update(/*tokens_seen=*/40, /*uniform=*/32, /*floor=*/5);
  for (size_t l = 0; l < 2; ++l) {
    for (size_t h = 0; h < 2; ++h) EXPECT_LE(e.Budget(l, h), 40u);
  }
}

TEST(EntropyBudgets, HeadsAloneKeepEachLayersTotal) {
  EntropyBudgets e;
  e.Bind(2, 3, {.heads = true, .layers = false}, 4, 4);
  const Row spread = MakeRow(32, true), peaked = MakeRow(32, false);
  e.Observe(spread.Of(0, 0, 3));
  e.Observe(peaked.Of(0, 1, 3));
  e.Observe(peaked.Of(0, 2, 3));
  e.Observe(spread.Of(1, 0, 3));
  e.Observe(spread.Of(1, 1, 3));
  e.Observe(spread.Of(1, 2, 3));
  e.Update(100, 20, 3);
  for (size_t l = 0; l < 2; ++l) EXPECT_EQ(e.Budget(l, 0) + e.Budget(l, 1) + e.Budget(l, 2), 60u) << l;
  EXPECT_EQ(e.Budget(0, 0), 54u);  // 60 - 2 floors of 3
  EXPECT_EQ(e.Budget(1, 0), 20u);
  EXPECT_EQ(e.LayerBound(20, 3), 60u);
}

TEST(EntropyBudgets, SpecsAndErrors) {
  for (const char* spec : {"h2o:budget=64,layers=entropy,entropy_every=32,entropy_cap=4",
                           "tova:budget=64,recent=8,heads=entropy,entropy_every=16,entropy_cap=2",
                           "snapkv:budget=64,recent=8,window=8,pool=7,every=0,layers=entropy,heads=entropy,"
                           "entropy_every=32,entropy_cap=4",
                           "knorm:budget=64,layers=entropy,heads=adaptive,entropy_every=32,entropy_cap=4",
                           "h2o:ratio=0.25,layers=entropy,entropy_every=32,entropy_cap=4"}) {
    EXPECT_EQ(MakePolicy(spec)->Spec(), spec);
  }
  EXPECT_EQ(MakePolicy("h2o:budget=64,heads=entropy")->Spec(),
            "h2o:budget=64,heads=entropy,entropy_every=32,entropy_cap=4");
  // A score that needs no attention (knorm) asks for rows once entropy budgets are on.
  EXPECT_FALSE(MakePolicy("knorm:budget=64")->WantsAttention());
  EXPECT_TRUE(MakePolicy("knorm:budget=64,heads=entropy")->WantsAttention());
  auto error = [](const std::string& spec) {
    try {
      MakePolicy(spec);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(error("h2o:budget=64,heads=entropy,layers=pyramid").find("heads=entropy"), std::string::npos);
  EXPECT_NE(error("h2o:budget=64,heads=entropy,entropy_every=0").find("entropy_every"), std::string::npos);
  EXPECT_NE(error("h2o:budget=64,entropy_cap=2").find("unknown key 'entropy_cap'"), std::string::npos);
}

}  // namespace
}  // namespace kvlab
