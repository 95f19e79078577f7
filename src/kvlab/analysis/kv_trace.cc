#include "kvlab/analysis/kv_trace.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>

#include "kvlab/kv/policy.h"
#include "kvlab/util/error.h"

namespace kvlab::analysis {

namespace {
// Never evicts; writes every attention row into the trace and runs the rewrite hook.
class RecordingPolicy final : public KvPolicy {
 public:
  RecordingPolicy(KvTrace* trace, const TraceOptions* options) : trace_(trace), options_(options) {}
  std::string Spec() const override { return "full"; }
  size_t MaxSlots() const override { return kUnbounded; }
  bool WantsAttention() const override { return options_->record_attention; }
  void Observe(const AttentionRow& row) override {
    const size_t t = trace_->tokens;
    const size_t q = static_cast<size_t>(row.query_pos);
    if (q >= t) return;
    float* out = trace_->attention.data() + ((row.layer * trace_->n_heads + row.head) * t + q) * t;
    for (size_t i = 0; i < row.probs.size(); ++i) {
      const size_t k = static_cast<size_t>(row.slots[i].pos);
      if (k <= q) out[k] = row.probs[i];
    }
  }
  void Compress(size_t layer, KvCache& cache) override {
    if (options_->rewrite) options_->rewrite(layer, cache);
  }
  std::unique_ptr<KvPolicy> Clone() const override { return std::make_unique<RecordingPolicy>(*this); }

 private:
  KvTrace* trace_;
  const TraceOptions* options_;
};

void LogSoftmax(const float* logits, size_t n, float* out) {
  float mx = logits[0];
  for (size_t i = 1; i < n; ++i) mx = std::max(mx, logits[i]);
  double sum = 0;
  for (size_t i = 0; i < n; ++i) sum += std::exp(static_cast<double>(logits[i] - mx));
  const float lse = mx + static_cast<float>(std::log(sum));
  for (size_t i = 0; i < n; ++i) out[i] = logits[i] - lse;
}
}  // namespace

KvTrace RunTrace(const Model& model, std::span<const int32_t> ids, const TraceOptions& options) {
  const ModelConfig& c = model.config();
  if (ids.empty()) throw Error("--text", "the text encodes to no tokens");
  const size_t total = ids.size() + static_cast<size_t>(std::max<int32_t>(options.generate, 0));
  if (total > static_cast<size_t>(c.max_seq_len)) {
    throw Error("--max-tokens", std::to_string(total) + " tokens exceed the model's context of " +
                                    std::to_string(c.max_seq_len));
  }
  KvTrace trace;
  trace.tokens = total;
  trace.n_layers = c.n_layers;
  trace.n_heads = c.n_heads;
  trace.n_kv_heads = c.n_kv_heads;
  trace.head_dim = c.head_dim;
  trace.vocab = c.vocab_size;
  trace.ids.assign(ids.begin(), ids.end());
  trace.logprobs.resize(total * trace.vocab);
  if (options.record_attention) trace.attention.assign(trace.n_layers * trace.n_heads * total * total, 0.0f);

  RecordingPolicy policy(&trace, &options);
  policy.Bind(c.CacheShape());
  KvCache cache(c.CacheShape(), total);
  Activations act(c, 1);
  std::vector<float> logits(trace.vocab);
  for (size_t t = 0; t < total; ++t) {
    const int32_t id = trace.ids[t];
    model.Forward(std::span<const int32_t>(&id, 1), static_cast<int32_t>(t), cache, act, logits.data(),
                  LogitsFor::kLastToken, &policy);
    LogSoftmax(logits.data(), trace.vocab, trace.logprobs.data() + t * trace.vocab);
    if (t + 1 == trace.ids.size() && trace.ids.size() < total) {
      trace.ids.push_back(
          static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin()));
    }
  }
  const size_t row = trace.n_kv_heads * trace.head_dim;
  trace.keys.resize(trace.n_layers * total * row);
  trace.values.resize(trace.n_layers * total * row);
  for (size_t l = 0; l < trace.n_layers; ++l) {
    for (size_t h = 0; h < trace.n_kv_heads; ++h) {
      const float* k = cache.Keys(l, h);
      const float* v = cache.Values(l, h);
      for (size_t s = 0; s < total; ++s) {
        float* kd = trace.keys.data() + (l * total + s) * row + h * trace.head_dim;
        float* vd = trace.values.data() + (l * total + s) * row + h * trace.head_dim;
        std::memcpy(kd, k + s * trace.head_dim, trace.head_dim * sizeof(float));
        std::memcpy(vd, v + s * trace.head_dim, trace.head_dim * sizeof(float));
      }
    }
  }
  return trace;
}

}  // namespace kvlab::analysis
