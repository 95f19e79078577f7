// Model: a loaded transformer (Llama or GPT-2 family), read-only after construction and shareable by
// any number of streams. Each stream brings its own KvCache and Activations (gemma.cpp's ownership rule),
// so a full cache and a compressed cache can run side by side over one model.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "kvlab/kv/cache.h"
#include "kvlab/kv/policy.h"
#include "kvlab/model/weights.h"
#include "kvlab/ops/matmul.h"
#include "kvlab/ops/rope.h"

namespace kvlab {

// Scratch buffers of one stream, sized once for up to `max_batch` tokens per forward chunk.
struct Activations {
  Activations(const ModelConfig& c, size_t max_batch);
  static size_t RopeTableCount(const ModelConfig& c);
  size_t max_batch;
  std::vector<float> x;       // [max_batch][dim]      residual stream
  std::vector<float> xn;      // [max_batch][dim]      normalized input of a block
  std::vector<float> q;       // [max_batch][q_dim]
  std::vector<float> k;       // [max_batch][kv_dim]
  std::vector<float> v;       // [max_batch][kv_dim]
  std::vector<float> att;     // [max_batch][q_dim]    attention output, heads concatenated
  std::vector<float> proj;    // [max_batch][dim]      output of wo / w_down before the residual add
  std::vector<float> hidden;  // [max_batch][ffn_dim]  gate (Llama) or fc (GPT-2) activations
  std::vector<float> up;      // [max_batch][ffn_dim]  up projection (Llama)
  std::vector<float> scores;  // [threads][cache capacity] attention rows, grown on demand
  std::vector<RopeAngles> rope;  // [rope tables][max_batch] cos/sin of each token under each table (Model)
  std::vector<uint32_t> keep;    // [cache capacity] slots a sliding-window layer keeps, grown on demand
};

enum class LogitsFor { kLastToken, kAllTokens };

class Model {
 public:
  explicit Model(LoadedModel loaded);
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const ModelConfig& config() const { return loaded_.config; }
  const LoadedModel& loaded() const { return loaded_; }

  // Runs `tokens` at positions start_pos, start_pos+1, ...: appends their K/V to `cache` and writes
  // logits [vocab] for the last token or [tokens.size()][vocab] for all of them.
  // With a policy, attention rows go to policy->Observe and policy->Compress runs on every layer after
  // each chunk of at most act.max_batch tokens, so the cache needs capacity MaxSlots() + max_batch.
  // Layers with the model's own sliding window (Mistral, Gemma) drop the slots no later query can see after
  // each chunk, policy or not, so their cache holds at most the window between chunks.
  // LongRoPE models (Phi-3) rotate with the long factors in a call whose last position passes the original
  // context, as transformers does per forward call.
  // Throws kvlab::Error on a token id outside the vocabulary, a position the model cannot embed
  // (GPT-2 learned positions), or a cache without room for the tokens.
  void Forward(std::span<const int32_t> tokens, int32_t start_pos, KvCache& cache, Activations& act,
               float* logits, LogitsFor which = LogitsFor::kLastToken, KvPolicy* policy = nullptr) const;

 private:
  void CheckInputs(std::span<const int32_t> tokens, int32_t start_pos, const KvCache& cache,
                   const Activations& act, const KvPolicy* policy) const;
  void ForwardChunk(std::span<const int32_t> tokens, int32_t start_pos, KvCache& cache, Activations& act,
                    float* logits, LogitsFor which, KvPolicy* policy, bool long_context) const;
  void Embed(std::span<const int32_t> tokens, int32_t start_pos, Activations& act) const;
  void AttentionBlock(size_t layer, size_t n, int32_t start_pos, KvCache& cache, Activations& act,
                      KvPolicy* observer, bool long_context) const;
  void Attend(size_t layer, size_t n, int32_t start_pos, const KvCache& cache, Activations& act) const;
  void AttendTiles(size_t layer, size_t n, int32_t start_pos, const KvCache& cache, Activations& act) const;
  void AttendObserved(size_t layer, size_t n, int32_t start_pos, const KvCache& cache, Activations& act,
                      KvPolicy& observer) const;
  void MlpBlock(size_t layer, size_t n, Activations& act) const;
  // x += post_norm(w · in + bias) for n tokens (the attention output and MLP down projections), through
  // act.proj; post_norm only with sandwich norms (Gemma). In decode without them, each thread adds the
  // rows it computed inside the mat-vec. next: the mat-vec region after this one (MatVecMany).
  void ProjectIntoResidual(const MatrixView& w, const VectorView& bias, const VectorView& post_norm,
                           const float* in, size_t n, Activations& act, const NextMatVec& next) const;
  // The first mat-vec region after layer `layer`: the next layer's Q, K and V, or the classifier.
  NextMatVec MatVecAfterLayer(size_t layer) const;
  void Norm(const VectorView& w, const VectorView& b, const float* x, size_t n, float* out) const;
  void Logits(const float* x, size_t n, Activations& act, float* logits) const;
  // Drops the slots a sliding-window layer's next query can no longer see (position <= last_pos - window).
  void TrimToWindow(size_t layer, int32_t last_pos, KvCache& cache, Activations& act, KvPolicy* policy) const;
  // The RoPE table layer `layer` rotates with (index into rope_tables_), and the one of the global layers;
  // long_context (only ever true for LongRoPE): the long table.
  size_t RopeTable(size_t layer, bool long_context) const;
  size_t GlobalRopeTable(bool long_context) const;

  LoadedModel loaded_;
  // RoPE frequency tables (ops/rope_frequencies.h): [0] global layers, then Gemma 3's local layers and
  // LongRoPE's long factors where the model has them.
  std::vector<RopeFrequencies> rope_tables_;
  size_t local_rope_table_ = 0, long_rope_table_ = 0;
};

}  // namespace kvlab
