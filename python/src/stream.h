// Stream: one sequence running on a model, as kvlab.Stream: its KvCache, its policy (a spec string's or a
// Python policy's), its activations and its position. Feeding ids advances it; the cache can be read
// between calls. Built on Model::Forward exactly as the C++ evaluations are, so logits are the C++ API's.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "attention_capture.h"
#include "kvlab/gen/sampler.h"
#include "kvlab/kv/cache.h"
#include "kvlab/kv/policy.h"
#include "kvlab/model/model.h"
#include "model_handle.h"

namespace kvlab::python {

struct GenerateSettings {
  int32_t max_new_tokens = 32;
  SamplerConfig sampler;
  bool stop_at_eos = true;
  std::vector<int32_t> stop_tokens;  // ids that end generation besides EOS (with stop_at_eos)
};

class Stream {
 public:
  // context: positions the stream may reach with an unbounded policy (0: the model's trained context);
  // max_batch: tokens per forward chunk (the policy compresses after each).
  Stream(std::shared_ptr<ModelHandle> model, std::unique_ptr<KvPolicy> policy, size_t context,
         size_t max_batch);

  // Runs ids at the next positions. logits: [1][vocab] (last token) or [ids.size()][vocab] (all). Call
  // without the GIL. After a failure inside the forward pass the cache is half-updated: the stream refuses
  // further calls until Reset().
  void Feed(std::span<const int32_t> ids, float* logits, bool all_logits);
  // Feeds `prompt` (may be empty: continue from the last fed token), then samples and feeds up to
  // max_new_tokens tokens; returns the generated ids. Every generated token ends up in the cache.
  std::vector<int32_t> Generate(std::span<const int32_t> prompt, const GenerateSettings& s,
                                std::string& stop_reason);
  void Reset();

  // Records the attention of these layers during later feeds (empty: stop recording).
  void RecordAttention(std::vector<int> layers);
  const AttentionCapture* capture() const { return capture_.get(); }

  const ModelHandle& model() const { return *model_; }
  const KvCache& cache() const { return cache_; }
  const KvPolicy* policy() const { return policy_.get(); }
  std::string Spec() const { return policy_ ? policy_->Spec() : "full"; }
  int32_t position() const { return pos_; }
  size_t context() const { return context_; }
  const std::vector<int32_t>& history() const { return history_; }

 private:
  void CheckUsable() const;

  std::shared_ptr<ModelHandle> model_;
  std::unique_ptr<KvPolicy> prototype_;  // the policy as built, never run: Reset starts from a clone of it
  std::unique_ptr<KvPolicy> policy_;     // null: the full cache
  std::unique_ptr<AttentionCapture> capture_;
  size_t context_;
  KvCache cache_;
  Activations act_;
  int32_t pos_ = 0;
  std::vector<int32_t> history_;    // every id fed, in order (the repetition penalty's history)
  std::vector<float> last_logits_;  // [vocab] logits after the last fed token
  bool broken_ = false;
};

}  // namespace kvlab::python
