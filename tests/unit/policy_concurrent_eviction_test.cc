// Eviction of a layer's heads on several threads (ScorePolicy and SummaryPolicy, when the score allows it):
// it does run on more than one thread, and every policy that takes it leaves the cache, bit for bit, as
// one thread does.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "kvlab/kv/registry.h"
#include "kvlab/kv/score_policy.h"
#include "kvlab/model/model.h"
#include "kvlab/model/presets.h"
#include "kvlab/model/random_model.h"
#include "kvlab/ops/threads.h"
#include "test_assets.h"

namespace kvlab::test {
namespace {

// Scores a slot by a hash of its position, and records the threads Score ran on.
class ThreadRecordingScore final : public ScorePolicy {
 public:
  ThreadRecordingScore(const ScoreBudget& b, std::set<std::thread::id>* threads, std::mutex* mutex)
      : ScorePolicy(b), threads_(threads), mutex_(mutex) {}
  std::string Spec() const override { return "recording:" + BudgetSpec(); }
  std::unique_ptr<KvPolicy> Clone() const override { return std::make_unique<ThreadRecordingScore>(*this); }

 protected:
  void Score(size_t layer, size_t head, const KvCache& cache, std::span<float> out) override {
    {
      std::lock_guard<std::mutex> lock(*mutex_);
      threads_->insert(std::this_thread::get_id());
    }
    std::span<const SlotMeta> meta = cache.Meta(layer, head);
    for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<float>((meta[i].pos * 2654435761u) % 1000u);
  }
  bool ScoresHeadsConcurrently() const override { return true; }

 private:
  std::set<std::thread::id>* threads_;
  std::mutex* mutex_;
};

struct CacheAfterRun {
  std::vector<float> logits;
  std::vector<std::vector<SlotMeta>> meta;  // [layer * kv_heads]
  std::vector<std::vector<float>> keys, values;
};

// A prompt, then single-token steps, with `policy` compressing after every layer; what the cache holds at
// the end, and the last logits.
CacheAfterRun Generate(const Model& model, KvPolicy& policy, int threads) {
  const int threads_before = NumThreads();
  SetNumThreads(threads);
  const ModelConfig& c = model.config();
  std::vector<int32_t> prompt;
  for (int32_t i = 0; i < 40; ++i) prompt.push_back((i * 37 + 11) % 500 + 3);
  constexpr size_t kSteps = 12;
  KvCache cache(c.CacheShape(), prompt.size() + kSteps + 16);
  policy.Bind(c.CacheShape());
  Activations act(c, prompt.size());
  CacheAfterRun run;
  run.logits.resize(static_cast<size_t>(c.vocab_size));
  model.Forward(prompt, 0, cache, act, run.logits.data(), LogitsFor::kLastToken, &policy);
  for (size_t step = 0; step < kSteps; ++step) {
    const int32_t token = static_cast<int32_t>(step * 13 + 5);
    model.Forward(std::span<const int32_t>(&token, 1), static_cast<int32_t>(prompt.size() + step), cache, act,
                  run.logits.data(), LogitsFor::kLastToken, &policy);
  }
  std::vector<float> scratch(c.head_dim);
  for (size_t layer = 0; layer < static_cast<size_t>(c.n_layers); ++layer) {
    for (size_t head = 0; head < static_cast<size_t>(c.n_kv_heads); ++head) {
      std::span<const SlotMeta> meta = cache.Meta(layer, head);
      run.meta.emplace_back(meta.begin(), meta.end());
      std::vector<float> k, v;
      for (size_t slot = 0; slot < meta.size(); ++slot) {
        const float* key = cache.KeyRow(layer, head, slot, scratch.data());
        k.insert(k.end(), key, key + c.head_dim);
        const float* value = cache.ValueRow(layer, head, slot, scratch.data());
        v.insert(v.end(), value, value + c.head_dim);
      }
      run.keys.push_back(std::move(k));
      run.values.push_back(std::move(v));
    }
  }
  SetNumThreads(threads_before);
  return run;
}

void ExpectSameRun(const CacheAfterRun& a, const CacheAfterRun& b, const std::string& what) {
  ASSERT_EQ(a.meta.size(), b.meta.size()) << what;
  for (size_t i = 0; i < a.meta.size(); ++i) {
    ASSERT_EQ(a.meta[i].size(), b.meta[i].size()) << what << ": head " << i;
    for (size_t s = 0; s < a.meta[i].size(); ++s) {
      EXPECT_EQ(a.meta[i][s].pos, b.meta[i][s].pos) << what << ": head " << i << " slot " << s;
      EXPECT_EQ(a.meta[i][s].count, b.meta[i][s].count) << what << ": head " << i << " slot " << s;
    }
    ASSERT_EQ(a.keys[i].size(), b.keys[i].size()) << what;
    EXPECT_EQ(std::memcmp(a.keys[i].data(), b.keys[i].data(), a.keys[i].size() * sizeof(float)), 0)
        << what << ": keys of head " << i;
    EXPECT_EQ(std::memcmp(a.values[i].data(), b.values[i].data(), a.values[i].size() * sizeof(float)), 0)
        << what << ": values of head " << i;
  }
  ASSERT_EQ(a.logits.size(), b.logits.size());
  EXPECT_EQ(std::memcmp(a.logits.data(), b.logits.data(), a.logits.size() * sizeof(float)), 0)
      << what << ": logits";
}

Model TinyModel(const std::string& name) {
  const auto dir = TempDir("concurrent-eviction-" + name) / "model";
  InitRandomModelDir(FindModelPreset(name).config, dir, RandomModelOptions{}, /*force=*/true);
  return Model(LoadModel(dir));
}

TEST(ConcurrentEviction, HeadsOfALayerAreEvictedOnSeveralThreadsWithTheSameResult) {
  const Model model = TinyModel("llama3-tiny");  // 2 kv heads per layer
  std::set<std::thread::id> threads;
  std::mutex mutex;
  ScoreBudget b;
  b.budget = 12;
  b.sinks = 2;
  b.recent = 3;
  b.chunk = 2;
  ThreadRecordingScore serial_policy(b, &threads, &mutex);
  const CacheAfterRun serial = Generate(model, serial_policy, 1);
  EXPECT_EQ(threads.size(), 1u);
  threads.clear();
  ThreadRecordingScore concurrent_policy(b, &threads, &mutex);
  const CacheAfterRun concurrent = Generate(model, concurrent_policy, 2);
  EXPECT_EQ(threads.size(), 2u) << "eviction should have run on both threads";
  ExpectSameRun(serial, concurrent, "recording score");
}

TEST(ConcurrentEviction, EveryPolicyThatTakesItEvictsAsOneThreadDoes) {
  const Model model = TinyModel("llama3-tiny");
  for (const std::string spec :
       {"window:budget=12", "sinks:budget=12,sinks=2", "h2o:budget=12,recent=3", "tova:budget=12,sinks=2",
        "sketch:type=cms,width=32,depth=3,budget=12", "sketch:type=cs,width=32,depth=3,budget=12,recent=2",
        "sketch:type=race,width=16,depth=3,budget=12,sinks=1",
        "sketch:type=cms,width=32,depth=3,budget=14,strategy=aggregate,summaries=3",
        "cluster:budget=12,summaries=3", "cluster:budget=12,summaries=4,assign=lsh",
        "cluster:budget=12,summaries=3,metric=l2,chunk=2"}) {
    std::unique_ptr<KvPolicy> one = MakePolicy(spec), two = MakePolicy(spec);
    const CacheAfterRun serial = Generate(model, *one, 1);
    const CacheAfterRun concurrent = Generate(model, *two, 2);
    ExpectSameRun(serial, concurrent, spec);
  }
}

}  // namespace
}  // namespace kvlab::test
