#include "kvlab/model/model.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "kvlab/kv/attention_quant.h"
#include "kvlab/ops/activations.h"
#include "kvlab/ops/attention.h"
#include "kvlab/ops/attention_prefill.h"
#include "kvlab/ops/cpu_features.h"
#include "kvlab/ops/gemm_kernels.h"
#include "kvlab/ops/matmul.h"
#include "kvlab/ops/matvec_kernels.h"
#include "kvlab/ops/norms.h"
#include "kvlab/ops/region_timer.h"
#include "kvlab/ops/thread_team.h"
#include "kvlab/ops/threads.h"
#include "kvlab/ops/work_shares.h"
#include "kvlab/util/error.h"

namespace kvlab {

namespace {
// Threads worth using for attention over `slots` cached slots per head: one per ~8K multiply-adds, so
// tiny models and short contexts stay on one thread instead of paying a fork/join per layer.
size_t AttentionThreads(size_t items, size_t slots, size_t head_dim) {
  const size_t work = items * slots * head_dim;
  const size_t most = std::min(static_cast<size_t>(NumThreads()), WorkShares::kMaxThreads);
  return std::max<size_t>(1, std::min({most, items, work / 8192}));
}

// The first of `meta`'s slots that a query at `pos` sees through a sliding window of `window` tokens
// (0: every slot). Slot positions ascend, so it is a binary search.
size_t FirstVisibleSlot(std::span<const SlotMeta> meta, int32_t pos, int32_t window) {
  if (window <= 0) return 0;
  const int32_t oldest = pos - window + 1;
  return static_cast<size_t>(
      std::partition_point(meta.begin(), meta.end(), [oldest](const SlotMeta& m) { return m.pos < oldest; }) -
      meta.begin());
}

// A quantized head without its first `skip` slots (encoded ones first, then the f32 window).
QuantizedHead SkipSlots(QuantizedHead h, size_t skip, size_t head_dim) {
  const size_t encoded = std::min(skip, h.n_quant);
  h.key_codes += encoded * h.key_row_bytes;
  h.value_codes += encoded * h.value_row_bytes;
  if (h.key_block_of != nullptr) h.key_block_of += encoded;
  h.n_quant -= encoded;
  h.residual_keys += (skip - encoded) * head_dim;
  h.residual_values += (skip - encoded) * head_dim;
  return h;
}

// One query head over kv head `kv`: one branch per (token, head), none per slot, so the plain path is
// exactly the f32 kernel. Without GQA no other query head rereads the kv head's rows (KvReuse::kOnce).
// A sliding-window layer attends over the visible suffix of the slots; scores before it are 0, so an
// observer still gets one probability per slot.
void AttendOneHead(const KvCache& cache, size_t layer, size_t kv, size_t group, const float* q, size_t head_dim,
                   const ModelConfig& c, int32_t pos, float* scores, float* out) {
  const std::span<const SlotMeta> all = cache.Meta(layer, kv);
  const size_t first = FirstVisibleSlot(all, pos, c.Window(layer));
  std::fill(scores, scores + first, 0.0f);
  const std::span<const SlotMeta> meta = all.subspan(first);
  const float scale = c.AttentionScale();
  if (cache.quantized()) {
    AttendHeadQuantized(q, SkipSlots(cache.Quantized(layer, kv), first, head_dim), meta, head_dim, scale, pos,
                        scores + first, out, c.attn_softcap);
  } else {
    // Slots after the last one this query may see are skipped rather than masked (probability 0 either
    // way): in a prefill chunk those are the chunk's later tokens, half of its causal attention work.
    size_t end = all.size();
    while (end > first && all[end - 1].pos > pos) --end;
    std::fill(scores + end, scores + all.size(), 0.0f);
    AttendHead(q, cache.Keys(layer, kv) + first * head_dim, cache.Values(layer, kv) + first * head_dim,
               all.subspan(first, end - first), head_dim, scale, pos, scores + first, out,
               group == 1 ? KvReuse::kOnce : KvReuse::kAgain, c.attn_softcap);
  }
}

// Decode's residual add, run inside the mat-vec's parallel region on the rows each thread computed
// (RowsFinish, ops/matmul.h), with the same arithmetic as the whole-vector passes it replaces.
struct AddToResidual {  // proj += bias (AddBias), then x += proj
  const float* bias;    // null: none
  float* proj;
  float* x;
  static void Run(void* self, size_t begin, size_t end) {
    const auto& a = *static_cast<const AddToResidual*>(self);
    for (size_t r = begin; r < end; ++r) {
      if (a.bias != nullptr) a.proj[r] += a.bias[r];
      a.x[r] += a.proj[r];
    }
  }
};
}  // namespace

Activations::Activations(const ModelConfig& c, size_t max_batch_)
    : max_batch(max_batch_),
      x(max_batch_ * c.dim),
      xn(max_batch_ * c.dim),
      q(max_batch_ * c.q_dim()),
      k(max_batch_ * c.kv_dim()),
      v(max_batch_ * c.kv_dim()),
      att(max_batch_ * c.q_dim()),
      proj(max_batch_ * c.dim),
      hidden(max_batch_ * c.ffn_dim),
      up(c.GatedMlp() ? max_batch_ * c.ffn_dim : 0),
      rope(RopeTableCount(c) * max_batch_) {}

size_t Activations::RopeTableCount(const ModelConfig& c) {
  if (!c.HasRope()) return 0;
  return 1 + (c.rope_local_theta > 0 ? 1 : 0) + (c.rope_scaling.type == RopeScalingType::kLongRope ? 1 : 0);
}

Model::Model(LoadedModel loaded) : loaded_(std::move(loaded)) {
  loaded_.MoveWeightsToArena();
  const ModelConfig& c = config();
  if (!c.HasRope()) return;
  rope_tables_.push_back(c.RopeFrequenciesOf(/*local=*/false));
  if (c.rope_local_theta > 0) {
    local_rope_table_ = rope_tables_.size();
    rope_tables_.push_back(c.RopeFrequenciesOf(/*local=*/true));
  }
  if (c.rope_scaling.type == RopeScalingType::kLongRope) {
    long_rope_table_ = rope_tables_.size();
    rope_tables_.push_back(c.RopeFrequenciesOf(/*local=*/false, /*long_context=*/true));
  }
  // Activations size one set of angles per table the config can ask for.
  KVLAB_CHECK(rope_tables_.size() <= Activations::RopeTableCount(c));
}

size_t Model::GlobalRopeTable(bool long_context) const { return long_context ? long_rope_table_ : 0; }

size_t Model::RopeTable(size_t layer, bool long_context) const {
  return config().LocalRope(layer) ? local_rope_table_ : GlobalRopeTable(long_context);
}

void Model::CheckInputs(std::span<const int32_t> tokens, int32_t start_pos, const KvCache& cache,
                        const Activations& act, const KvPolicy* policy) const {
  const ModelConfig& c = config();
  for (int32_t t : tokens) {
    if (t < 0 || t >= c.vocab_size) {
      throw Error("tokens", "token id " + std::to_string(t) + " is outside the vocabulary [0, " +
                                std::to_string(c.vocab_size) + ")");
    }
  }
  const int64_t last_pos = int64_t{start_pos} + static_cast<int64_t>(tokens.size()) - 1;
  if (start_pos < 0 || (c.arch == Arch::kGpt2 && last_pos >= c.max_seq_len)) {
    throw Error("positions", "position " + std::to_string(last_pos) + " is beyond the " +
                                 std::to_string(c.max_seq_len) + " learned positions of this GPT-2 model");
  }
  // A quantizing policy needs a cache built with its codec (CacheCodecFor); a mismatch would silently
  // run the wrong storage, so refuse it here, once per call, where throwing is allowed.
  if (policy != nullptr && !(policy->Codec() == cache.codec())) {
    throw Error("kv cache", "the cache stores " + CodecSpec(cache.codec()) + " but the policy '" + policy->Spec() +
                                "' wants " + CodecSpec(policy->Codec()),
                "build the cache with KvCache(config.CacheShape(), capacity, CacheCodecFor(policy))");
  }
  // Without a policy every token stays; with one, each chunk must fit before it is compressed.
  const bool bounded = policy != nullptr && policy->MaxSlots() != KvPolicy::kUnbounded;
  const size_t needed = bounded ? std::min(tokens.size(), act.max_batch) : tokens.size();
  if (needed > cache.FreeSlots() ||
      (bounded && policy->MaxSlots() + std::min(tokens.size(), act.max_batch) > cache.capacity())) {
    throw Error("kv cache", "no room for " + std::to_string(tokens.size()) + " more tokens (capacity " +
                                std::to_string(cache.capacity()) + ")",
                "raise the context size (-c) or use a bounded --kv policy");
  }
}

void Model::Forward(std::span<const int32_t> tokens, int32_t start_pos, KvCache& cache, Activations& act,
                    float* logits, LogitsFor which, KvPolicy* policy) const {
  CheckInputs(tokens, start_pos, cache, act, policy);
  const ModelConfig& c = config();
  const size_t vocab = static_cast<size_t>(c.vocab_size);
  // transformers picks LongRoPE's table once per forward call, from the call's last position.
  const bool long_context = c.rope_scaling.type == RopeScalingType::kLongRope &&
                            int64_t{start_pos} + static_cast<int64_t>(tokens.size()) > c.rope_scaling.original_max_positions;
  const size_t scores_needed = static_cast<size_t>(NumThreads()) * cache.capacity();
  if (act.scores.size() < scores_needed) act.scores.resize(scores_needed);  // once per cache size
  for (size_t done = 0; done < tokens.size(); done += act.max_batch) {
    const size_t n = std::min(act.max_batch, tokens.size() - done);
    const bool last_chunk = done + n == tokens.size();
    float* chunk_logits = nullptr;
    if (which == LogitsFor::kAllTokens) chunk_logits = logits + done * vocab;
    if (which == LogitsFor::kLastToken && last_chunk) chunk_logits = logits;
    ForwardChunk(tokens.subspan(done, n), start_pos + static_cast<int32_t>(done), cache, act, chunk_logits,
                 which, policy, long_context);
  }
}

void Model::ForwardChunk(std::span<const int32_t> tokens, int32_t start_pos, KvCache& cache,
                         Activations& act, float* logits, LogitsFor which, KvPolicy* policy,
                         bool long_context) const {
  const ModelConfig& c = config();
  const size_t n = tokens.size();
  const int32_t last_pos = start_pos + static_cast<int32_t>(n) - 1;
  Embed(tokens, start_pos, act);
  // The angles of each table this call rotates with: the global one (or LongRoPE's long one) and Gemma 3's
  // local one.
  auto angles_of = [&](size_t table) {
    for (size_t i = 0; i < n; ++i) {
      act.rope[table * act.max_batch + i].Compute(start_pos + static_cast<int32_t>(i), rope_tables_[table]);
    }
  };
  if (c.HasRope()) angles_of(GlobalRopeTable(long_context));
  if (local_rope_table_ != 0) angles_of(local_rope_table_);
  KvPolicy* observer = policy != nullptr && policy->WantsAttention() ? policy : nullptr;
  for (size_t layer = 0; layer < static_cast<size_t>(c.n_layers); ++layer) {
    AttentionBlock(layer, n, start_pos, cache, act, observer, long_context);
    // This layer's attention for the chunk is done: what its window hides goes first, then the policy
    // shrinks the rest back to its budget (so a budget above the window is the window). Both run before the
    // MLP, which does not read the cache: fewer bytes have then streamed through the CPU caches since the
    // attention read the slots they move (the output projection's, not also the MLP's weights).
    if (c.Window(layer) > 0) TrimToWindow(layer, last_pos, cache, act, policy);
    if (policy != nullptr) policy->Compress(layer, cache);
    MlpBlock(layer, n, act);
  }
  if (logits == nullptr) return;
  if (which == LogitsFor::kAllTokens) {
    Logits(act.x.data(), n, act, logits);
  } else {
    Logits(act.x.data() + (n - 1) * c.dim, 1, act, logits);
  }
}

void Model::Embed(std::span<const int32_t> tokens, int32_t start_pos, Activations& act) const {
  const ModelConfig& c = config();
  const ModelWeights& w = loaded_.weights;
  const size_t dim = static_cast<size_t>(c.dim);
  for (size_t i = 0; i < tokens.size(); ++i) {
    // One row of the embedding, in whatever dtype the (possibly tied) matrix is stored.
    const uint8_t* row = static_cast<const uint8_t*>(w.tok_emb.data) + static_cast<size_t>(tokens[i]) * w.tok_emb.RowBytes();
    kernels::DecodeRow(w.tok_emb.dtype, row, dim, act.x.data() + i * dim);
    if (c.embed_scale != 1.0f) {
      for (size_t d = 0; d < dim; ++d) act.x[i * dim + d] *= c.embed_scale;
    }
    if (!w.pos_emb.empty()) {  // GPT-2 learned positions, in whatever dtype they are kept (f16 files under auto)
      const uint8_t* p = static_cast<const uint8_t*>(w.pos_emb.data) + (start_pos + i) * w.pos_emb.RowBytes();
      float* position = act.xn.data() + i * dim;  // [dim] scratch: the norm input is not written yet
      kernels::DecodeRow(w.pos_emb.dtype, p, dim, position);
      for (size_t d = 0; d < dim; ++d) act.x[i * dim + d] += position[d];
    }
  }
}

void Model::Norm(const VectorView& w, const VectorView& b, const float* x, size_t n, float* out) const {
  const ModelConfig& c = config();
  const size_t dim = static_cast<size_t>(c.dim);
  for (size_t i = 0; i < n; ++i) {
    if (c.arch == Arch::kGpt2) {
      LayerNorm(x + i * dim, w.data, b.data, dim, c.norm_eps, out + i * dim);
    } else {
      RmsNorm(x + i * dim, w.data, dim, c.norm_eps, out + i * dim);
    }
  }
}

void Model::AttentionBlock(size_t layer, size_t n, int32_t start_pos, KvCache& cache, Activations& act,
                           KvPolicy* observer, bool long_context) const {
  const ModelConfig& c = config();
  const LayerWeights& lw = loaded_.weights.layers[layer];
  const size_t q_dim = c.q_dim(), kv_dim = c.kv_dim(), head_dim = c.head_dim;
  Norm(lw.attn_norm, lw.attn_norm_b, act.x.data(), n, act.xn.data());
  if (n == 1) {
    MatVecMany({{&lw.wq, act.xn.data(), act.q.data()},
                {&lw.wk, act.xn.data(), act.k.data()},
                {&lw.wv, act.xn.data(), act.v.data()}},
               {&lw.wo});
  } else {
    MatMul(lw.wq, act.xn.data(), n, act.q.data());
    MatMul(lw.wk, act.xn.data(), n, act.k.data());
    MatMul(lw.wv, act.xn.data(), n, act.v.data());
  }
  AddBias(lw.bq, act.q.data(), n, q_dim);
  AddBias(lw.bk, act.k.data(), n, kv_dim);
  AddBias(lw.bv, act.v.data(), n, kv_dim);
  if (c.qk_norm) {  // each head of q and k normalized on its own, before RoPE
    for (size_t h = 0; h < n * c.n_heads; ++h) {
      RmsNorm(act.q.data() + h * head_dim, lw.q_norm.data, head_dim, c.norm_eps, act.q.data() + h * head_dim);
    }
    for (size_t h = 0; h < n * c.n_kv_heads; ++h) {
      RmsNorm(act.k.data() + h * head_dim, lw.k_norm.data, head_dim, c.norm_eps, act.k.data() + h * head_dim);
    }
  }
  const size_t table = c.HasRope() ? RopeTable(layer, long_context) : 0;
  for (size_t i = 0; i < n; ++i) {
    if (c.HasRope()) {
      const RopeAngles& angles = act.rope[table * act.max_batch + i];
      ApplyRope(act.q.data() + i * q_dim, c.n_heads, head_dim, c.rope_style, angles);
      ApplyRope(act.k.data() + i * kv_dim, c.n_kv_heads, head_dim, c.rope_style, angles);
    }
    cache.Append(layer, act.k.data() + i * kv_dim, act.v.data() + i * kv_dim, start_pos + static_cast<int32_t>(i));
  }
  if (observer != nullptr) {
    AttendObserved(layer, n, start_pos, cache, act, *observer);
  } else {
    Attend(layer, n, start_pos, cache, act);
  }
  const NextMatVec mlp_in = c.GatedMlp() ? NextMatVec{&lw.w_gate, &lw.w_up} : NextMatVec{&lw.w_up};
  ProjectIntoResidual(lw.wo, lw.bo, lw.attn_post_norm, act.att.data(), n, act, mlp_in);
}

NextMatVec Model::MatVecAfterLayer(size_t layer) const {
  const ModelWeights& w = loaded_.weights;
  if (layer + 1 < w.layers.size()) {
    const LayerWeights& next = w.layers[layer + 1];
    return {&next.wq, &next.wk, &next.wv};
  }
  return {&w.lm_head};
}

void Model::ProjectIntoResidual(const MatrixView& w, const VectorView& bias, const VectorView& post_norm,
                                const float* in, size_t n, Activations& act, const NextMatVec& next) const {
  const ModelConfig& c = config();
  const size_t dim = c.dim;
  if (n == 1 && !c.sandwich_norms) {  // the add runs on the rows each thread computed
    AddToResidual add{bias.empty() ? nullptr : bias.data, act.proj.data(), act.x.data()};
    MatVecMany({{&w, in, act.proj.data(), {&AddToResidual::Run, &add}}}, next);
    return;
  }
  MatMul(w, in, n, act.proj.data(), next);
  AddBias(bias, act.proj.data(), n, dim);
  if (c.sandwich_norms) Norm(post_norm, {}, act.proj.data(), n, act.proj.data());
  for (size_t i = 0; i < n * dim; ++i) act.x[i] += act.proj[i];
}

void Model::TrimToWindow(size_t layer, int32_t last_pos, KvCache& cache, Activations& act,
                         KvPolicy* policy) const {
  const int32_t window = config().Window(layer);
  bool changed = false;
  std::vector<uint32_t>& keep = act.keep;
  for (size_t h = 0; h < cache.n_kv_heads(); ++h) {
    const std::span<const SlotMeta> meta = cache.Meta(layer, h);
    // The next query, at last_pos + 1, sees positions after last_pos + 1 - window: keep `window` of them.
    const size_t first = FirstVisibleSlot(meta, last_pos, window);
    if (first == 0) continue;
    keep.resize(meta.size() - first);
    for (size_t j = 0; j < keep.size(); ++j) keep[j] = static_cast<uint32_t>(first + j);
    cache.Keep(layer, h, keep);
    changed = true;
  }
  if (changed && policy != nullptr) policy->OnCacheChanged(layer, cache);
}

void Model::Attend(size_t layer, size_t n, int32_t start_pos, const KvCache& cache, Activations& act) const {
  const RegionKindScope attention(RegionKind::kAttention);
  const ModelConfig& c = config();
  const size_t head_dim = c.head_dim, q_dim = c.q_dim();
  const size_t group = static_cast<size_t>(c.n_heads / c.n_kv_heads);
  if (n > 1 && !cache.quantized() && c.attn_softcap == 0.0f && ActiveSimdLevel() == SimdLevel::kAvx512) {
    AttendTiles(layer, n, start_pos, cache, act);
    return;
  }
  const size_t work = n * static_cast<size_t>(c.n_heads);  // (token, query head) pairs
  const size_t stride = cache.capacity();
  const size_t threads = AttentionThreads(work, cache.MaxSize(layer), head_dim);
  WorkShares shares(work, threads);  // balanced like the mat-vecs (ops/work_shares.h)
  ParallelRun(threads, [&](size_t t, size_t) {
    float* scores = act.scores.data() + t * stride;
    size_t begin, end;
    while (shares.Next(t, begin, end)) {
      for (size_t item = begin; item < end; ++item) {
        const size_t i = item / c.n_heads, h = item % c.n_heads;
        AttendOneHead(cache, layer, h / group, group, act.q.data() + i * q_dim + h * head_dim, head_dim, c,
                      start_pos + static_cast<int32_t>(i), scores, act.att.data() + i * q_dim + h * head_dim);
      }
    }
  });
}

// Prefill attention a tile of kGemmTokens queries of one head at a time (ops/attention_prefill.h): items are
// (head, tile) pairs, handed out like the per-query items above.
void Model::AttendTiles(size_t layer, size_t n, int32_t start_pos, const KvCache& cache, Activations& act) const {
  const ModelConfig& c = config();
  const size_t head_dim = c.head_dim, q_dim = c.q_dim();
  const size_t group = static_cast<size_t>(c.n_heads / c.n_kv_heads);
  const size_t tiles = (n + kernels::kGemmTokens - 1) / kernels::kGemmTokens;
  const size_t work = tiles * static_cast<size_t>(c.n_heads);
  const size_t threads = AttentionThreads(work, kernels::kGemmTokens * cache.MaxSize(layer), head_dim);
  WorkShares shares(work, threads);
  ParallelRun(threads, [&](size_t t, size_t) {
    size_t begin, end;
    while (shares.Next(t, begin, end)) {
      for (size_t item = begin; item < end; ++item) {
        const size_t h = item / tiles, first = item % tiles * kernels::kGemmTokens;
        const size_t kv = h / group;
        const std::span<const SlotMeta> meta = cache.Meta(layer, kv);
        kernels::QueryTile tile;
        tile.q = act.q.data() + first * q_dim + h * head_dim;
        tile.q_stride = q_dim;
        tile.count = std::min(kernels::kGemmTokens, n - first);
        tile.first_pos = start_pos + static_cast<int32_t>(first);
        tile.out = act.att.data() + first * q_dim + h * head_dim;
        tile.out_stride = q_dim;
        const kernels::KvHeadView heads{cache.Keys(layer, kv), cache.Values(layer, kv), meta.data(),
                                        meta.size(), head_dim, c.Window(layer)};
        kernels::AttendQueryTileAvx512(tile, heads, c.AttentionScale());
      }
    }
  });
}

// Same attention, but work is split by kv head so that every Observe call for one kv head comes from one
// thread, in token order: policies can then accumulate per-head state without locks.
void Model::AttendObserved(size_t layer, size_t n, int32_t start_pos, const KvCache& cache, Activations& act,
                           KvPolicy& observer) const {
  const RegionKindScope attention(RegionKind::kAttention);
  const ModelConfig& c = config();
  const size_t head_dim = c.head_dim, q_dim = c.q_dim(), n_kv = c.n_kv_heads;
  const size_t group = static_cast<size_t>(c.n_heads / c.n_kv_heads);
  const size_t stride = cache.capacity();
  const size_t threads = AttentionThreads(n_kv, n * group * cache.MaxSize(layer), head_dim);
  WorkShares shares(n_kv, threads);  // a kv head is one item: all its Observe calls stay on one thread
  ParallelRun(threads, [&](size_t t, size_t) {
    float* scores = act.scores.data() + t * stride;
    size_t begin, end;
    while (shares.Next(t, begin, end)) {
      for (size_t kv = begin; kv < end; ++kv) {
        const std::span<const SlotMeta> meta = cache.Meta(layer, kv);
        observer.WillObserve(layer, kv);
        for (size_t i = 0; i < n; ++i) {
          for (size_t h = kv * group; h < (kv + 1) * group; ++h) {
            const float* q = act.q.data() + i * q_dim + h * head_dim;
            const int32_t pos = start_pos + static_cast<int32_t>(i);
            float* out = act.att.data() + i * q_dim + h * head_dim;
            AttendOneHead(cache, layer, kv, group, q, head_dim, c, pos, scores, out);
            observer.Observe(AttentionRow{layer, h, kv, pos, {scores, meta.size()}, meta, q});
          }
        }
      }
    }
  });
}

void Model::MlpBlock(size_t layer, size_t n, Activations& act) const {
  const ModelConfig& c = config();
  const LayerWeights& lw = loaded_.weights.layers[layer];
  const size_t ffn = c.ffn_dim;
  Norm(lw.ffn_norm, lw.ffn_norm_b, act.x.data(), n, act.xn.data());
  if (c.GatedMlp()) {
    if (n == 1) {
      MatVecMany({{&lw.w_gate, act.xn.data(), act.hidden.data()}, {&lw.w_up, act.xn.data(), act.up.data()}},
                 {&lw.w_down});
    } else {
      MatMul(lw.w_gate, act.xn.data(), n, act.hidden.data());
      MatMul(lw.w_up, act.xn.data(), n, act.up.data());
    }
    // After the region, not inside it as the residual adds are: a thread would have to compute the same
    // rows of gate and up, switching between the two matrices at every hand-out, and each switch restarts
    // both weight streams cold.
    if (c.activation == Activation::kSiLU) {
      SwiGlu(act.hidden.data(), act.up.data(), n * ffn);
    } else if (c.activation == Activation::kGeluTanh) {
      GeluTanhGlu(act.hidden.data(), act.up.data(), n * ffn);
    } else {
      GeluErf(act.hidden.data(), n * ffn);
      for (size_t i = 0; i < n * ffn; ++i) act.hidden[i] *= act.up[i];
    }
  } else {
    MatMul(lw.w_up, act.xn.data(), n, act.hidden.data(), {&lw.w_down});
    AddBias(lw.b_up, act.hidden.data(), n, ffn);
    if (c.activation == Activation::kGeluErf) {
      GeluErf(act.hidden.data(), n * ffn);
    } else {
      GeluTanh(act.hidden.data(), n * ffn);
    }
  }
  ProjectIntoResidual(lw.w_down, lw.b_down, lw.ffn_post_norm, act.hidden.data(), n, act,
                      MatVecAfterLayer(layer));
}

void Model::Logits(const float* x, size_t n, Activations& act, float* logits) const {
  const ModelWeights& w = loaded_.weights;
  const size_t vocab = static_cast<size_t>(config().vocab_size);
  Norm(w.final_norm, w.final_norm_b, x, n, act.xn.data());
  // In decode the classifier is a step's last region: the next step starts with the first layer's Q, K, V.
  const LayerWeights& first = w.layers.front();
  MatMul(w.lm_head, act.xn.data(), n, logits, {&first.wq, &first.wk, &first.wv});
  AddBias(w.lm_head_b, logits, n, vocab);
  if (const float cap = config().final_softcap; cap > 0) {
    for (size_t i = 0; i < n * vocab; ++i) logits[i] = cap * std::tanh(logits[i] / cap);
  }
}

}  // namespace kvlab
