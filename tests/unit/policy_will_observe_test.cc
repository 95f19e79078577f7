// KvPolicy::WillObserve: the forward pass announces every (layer, kv head) on the thread that will then
// attend it and observe its rows, and the wrappers (CompositePolicy, PolicyTimer) pass the hint on.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "kvlab/eval/policy_timer.h"
#include "kvlab/kv/composite_policy.h"
#include "kvlab/model/model.h"
#include "kvlab/model/presets.h"
#include "kvlab/model/random_model.h"
#include "kvlab/ops/threads.h"
#include "test_assets.h"

namespace kvlab::test {
namespace {

// Records, per thread, the (layer, kv head) last announced, and counts rows that arrive unannounced.
struct Record {
  std::mutex mutex;
  std::map<std::thread::id, std::pair<size_t, size_t>> announced;
  size_t hints = 0, rows = 0, unannounced = 0;
};

class AnnouncedRows final : public KvPolicy {
 public:
  explicit AnnouncedRows(Record* r) : r_(r) {}
  std::string Spec() const override { return "announced"; }
  size_t MaxSlots() const override { return kUnbounded; }
  bool WantsAttention() const override { return true; }
  void WillObserve(size_t layer, size_t kv_head) override {
    std::lock_guard<std::mutex> lock(r_->mutex);
    r_->announced[std::this_thread::get_id()] = {layer, kv_head};
    ++r_->hints;
  }
  void Observe(const AttentionRow& row) override {
    std::lock_guard<std::mutex> lock(r_->mutex);
    ++r_->rows;
    auto it = r_->announced.find(std::this_thread::get_id());
    if (it == r_->announced.end() || it->second != std::pair{row.layer, row.kv_head}) ++r_->unannounced;
  }
  void Compress(size_t, KvCache&) override {}
  std::unique_ptr<KvPolicy> Clone() const override { return std::make_unique<AnnouncedRows>(r_); }

 private:
  Record* r_;
};

TEST(WillObserve, EveryObservedHeadIsAnnouncedOnItsThreadThroughTheWrappers) {
  const ModelConfig& want = FindModelPreset("llama3-tiny").config;
  const auto dir = TempDir("will-observe") / "model";
  InitRandomModelDir(want, dir, RandomModelOptions{}, /*force=*/true);
  const Model model(LoadModel(dir));
  const ModelConfig& c = model.config();
  const int threads_before = NumThreads();
  SetNumThreads(2);  // kv heads attended (and announced) on both threads
  Record record;
  std::vector<std::unique_ptr<KvPolicy>> parts;
  parts.push_back(std::make_unique<AnnouncedRows>(&record));
  PolicyTimer policy(std::make_unique<CompositePolicy>(std::move(parts)));
  const std::vector<int32_t> prompt = {3, 17, 99, 4, 250, 7, 81, 12};
  KvCache cache(c.CacheShape(), prompt.size() + 2);
  Activations act(c, 8);
  std::vector<float> logits(static_cast<size_t>(c.vocab_size));
  model.Forward(prompt, 0, cache, act, logits.data(), LogitsFor::kLastToken, &policy);
  const int32_t next = 5;
  model.Forward(std::span<const int32_t>(&next, 1), static_cast<int32_t>(prompt.size()), cache, act,
                logits.data(), LogitsFor::kLastToken, &policy);
  // Two forward calls, each announcing every (layer, kv head) once.
  EXPECT_EQ(record.hints, 2u * static_cast<size_t>(c.n_layers) * static_cast<size_t>(c.n_kv_heads));
  EXPECT_EQ(record.rows,
            (prompt.size() + 1) * static_cast<size_t>(c.n_layers) * static_cast<size_t>(c.n_heads));
  EXPECT_EQ(record.unannounced, 0u);
  SetNumThreads(threads_before);
}

}  // namespace
}  // namespace kvlab::test
