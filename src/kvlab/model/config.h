// ModelConfig: everything the forward pass needs to know about a model's shape and numerics,
// independent of the file format it came from.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "kvlab/kv/cache_shape.h"
#include "kvlab/ops/rope_frequencies.h"
#include "kvlab/ops/rope_style.h"

namespace kvlab {

// The model family, as a file names it. Everything but GPT-2 is a Llama-style decoder (RoPE, RMSNorm,
// gated MLP); the families differ in the features below, which the forward pass reads, never the Arch.
enum class Arch : uint8_t { kLlama, kGpt2, kMistral, kQwen2, kQwen3, kGemma2, kGemma3, kPhi3 };

// The MLP's nonlinearity: on the gate of a gated MLP (every family but GPT-2), else on the hidden layer.
enum class Activation : uint8_t {
  kSiLU,      // Llama SwiGLU gate
  kGeluTanh,  // GPT-2 "gelu_new", Gemma "gelu_pytorch_tanh" (GeGLU gate)
  kGeluErf,   // exact "gelu"
};

struct ModelConfig {
  Arch arch = Arch::kLlama;
  int32_t dim = 0;          // residual width (hidden_size / n_embd)
  int32_t n_layers = 0;
  int32_t n_heads = 0;      // query heads
  int32_t n_kv_heads = 0;   // key/value heads (GQA when < n_heads)
  int32_t head_dim = 0;     // dim / n_heads
  int32_t ffn_dim = 0;      // MLP hidden width
  int32_t vocab_size = 0;
  int32_t max_seq_len = 0;  // trained context (max_position_embeddings / n_positions)
  float norm_eps = 1e-5f;
  float rope_theta = 10000.0f;
  RopeStyle rope_style = RopeStyle::kInterleaved;
  Activation activation = Activation::kSiLU;
  bool tied_embeddings = false;  // lm_head shares the token embedding matrix
  int32_t bos_id = -1;           // -1: none
  int32_t eos_id = -1;

  // Features of today's families (all off for a Llama-2-style model). Gemma's (1 + w) norms need no flag:
  // the loaders fold the 1 into the stored weights, as llama.cpp's converter does.
  RopeScaling rope_scaling;       // rope_scaling of the config (ops/rope_frequencies.h)
  float rope_local_theta = 0.0f;  // Gemma 3: RoPE base of sliding-window layers, unscaled; 0: as global layers
  // [head_dim/2] per-pair divisors of the global layers' inverse frequencies, as a GGUF file's rope_freqs
  // tensor stores Llama 3's scaling (llama.cpp's freq_factors); empty: none. Applied after rope_scaling.
  std::vector<float> rope_freq_factors;
  bool qkv_bias = false;          // q/k/v projections carry biases (Qwen2)
  bool qk_norm = false;           // RMSNorm over each head of q and of k before RoPE (Qwen3, Gemma 3)
  bool sandwich_norms = false;    // extra norms on the attention and MLP outputs before the residual add (Gemma)
  float embed_scale = 1.0f;       // token embeddings are multiplied by this (Gemma: sqrt(dim))
  float query_scale = 0.0f;       // attention logits scale; 0: 1/sqrt(head_dim) (Gemma: query_pre_attn_scalar^-1/2)
  float attn_softcap = 0.0f;      // attention logits -> cap * tanh(logit / cap) before the mask (Gemma 2); 0: none
  float final_softcap = 0.0f;     // the same on the output logits
  // [n_layers] the model's own sliding window of each layer in tokens (query i sees keys i-W+1 .. i), 0 for
  // global attention; empty when every layer is global.
  std::vector<int32_t> layer_window;

  bool HasRope() const { return arch != Arch::kGpt2; }
  bool GatedMlp() const { return arch != Arch::kGpt2; }
  int32_t Window(size_t layer) const { return layer < layer_window.size() ? layer_window[layer] : 0; }
  bool AnySlidingLayer() const;
  float AttentionScale() const;
  // Whether a layer rotates with the local table (Gemma 3's sliding layers) rather than the global one.
  bool LocalRope(size_t layer) const;
  // The local or the global table; long_context: LongRoPE's long factors (a forward call reaching past
  // original_max_positions).
  RopeFrequencies RopeFrequenciesOf(bool local, bool long_context = false) const;
  RopeFrequencies LayerRopeFrequencies(size_t layer, bool long_context = false) const;

  int32_t q_dim() const { return n_heads * head_dim; }
  int32_t kv_dim() const { return n_kv_heads * head_dim; }
  // Bytes one token adds to an uncompressed f32 KV cache (K and V, every layer).
  int64_t KvBytesPerToken() const { return int64_t{2} * n_layers * kv_dim() * 4; }
  // What a KvCache and its policies are sized and bound with (kv/ never sees the ModelConfig): the head
  // counts and sizes, and each layer's RoPE table (none for GPT-2) for re-rotating kept keys.
  KvCacheShape CacheShape() const;
};

// "llama", "gpt2", "mistral", "qwen2", "qwen3", "gemma2", "gemma3", "phi3" (also llama.cpp's GGUF names).
const char* ArchName(Arch a);
const char* ActivationName(Activation a);

// Throws kvlab::Error (naming `source`) if the shape is inconsistent: zero sizes, heads not dividing dim,
// kv heads not dividing heads, odd head_dim for RoPE, ...
void ValidateConfig(const ModelConfig& c, const std::string& source);

}  // namespace kvlab
