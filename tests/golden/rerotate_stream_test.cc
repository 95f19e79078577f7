// Re-rotation on a real model (kv/rerotate.h): RoPE attention depends only on position differences, so a
// stream's logits do not depend on where it starts (which is why the query can keep its stream position
// while kept keys move to cache-relative positions), and with sinks + rerotate stories260K streams far past
// its 512 trained positions.
#include <gtest/gtest.h>

#include <cmath>

#include "kvlab/kv/registry.h"
#include "kvlab/model/model.h"
#include "test_assets.h"

namespace kvlab {
namespace {

Model Stories260K() { return Model(LoadModel(test::AssetsDir() / "models" / "stories260K" / "stories260K.bin")); }

TEST(RerotateStream, LogitsDoNotDependOnTheStartPosition) {
  KVLAB_REQUIRE_ASSETS();
  Model model = Stories260K();
  const ModelConfig& c = model.config();
  std::vector<int32_t> tokens(40);
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<int32_t>((i * 7919 + 3) % c.vocab_size);
  std::vector<float> at0(c.vocab_size), at_far(c.vocab_size);
  for (auto [start, out] : {std::pair{0, &at0}, std::pair{3000, &at_far}}) {
    KvCache cache(c.CacheShape(), 64);
    Activations act(c, 16);
    model.Forward(tokens, start, cache, act, out->data());
  }
  for (int32_t i = 0; i < c.vocab_size; ++i) ASSERT_NEAR(at0[i], at_far[i], 2e-4) << i;
}

TEST(RerotateStream, SinksStreamFourTimesPastTheTrainedContext) {
  KVLAB_REQUIRE_ASSETS();
  Model model = Stories260K();
  const ModelConfig& c = model.config();
  ASSERT_EQ(c.max_seq_len, 512);
  auto policy = MakePolicy("sinks:budget=128,sinks=4,chunk=16,rerotate=true");
  policy->Bind(c.CacheShape());
  KvCache cache(c.CacheShape(), RequiredCapacity(policy.get(), 0, 16));
  Activations act(c, 16);
  std::vector<float> logits(c.vocab_size);
  int32_t token = 1;
  for (int32_t pos = 0; pos < 4 * c.max_seq_len; ++pos) {
    model.Forward({&token, 1}, pos, cache, act, logits.data(), LogitsFor::kLastToken, policy.get());
    int32_t best = 0;
    for (int32_t i = 0; i < c.vocab_size; ++i) {
      ASSERT_TRUE(std::isfinite(logits[i])) << pos;
      if (logits[i] > logits[best]) best = i;
    }
    token = best;
    ASSERT_LE(cache.Size(0, 0), 128u);
  }
  // Sinks are still the first positions, and the newest slot is the last token.
  EXPECT_EQ(cache.Meta(0, 0)[0].pos, 0);
  EXPECT_EQ(cache.Meta(0, 0).back().pos, 4 * c.max_seq_len - 1);
}

}  // namespace
}  // namespace kvlab
