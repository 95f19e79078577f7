#include "kvlab/model/config.h"

#include <algorithm>
#include <cmath>

#include "kvlab/util/error.h"

namespace kvlab {

const char* ArchName(Arch a) {
  switch (a) {
    case Arch::kLlama: return "llama";
    case Arch::kGpt2: return "gpt2";
    case Arch::kMistral: return "mistral";
    case Arch::kQwen2: return "qwen2";
    case Arch::kQwen3: return "qwen3";
    case Arch::kGemma2: return "gemma2";
    case Arch::kGemma3: return "gemma3";
    case Arch::kPhi3: return "phi3";
  }
  return "?";
}

bool ModelConfig::AnySlidingLayer() const {
  return std::any_of(layer_window.begin(), layer_window.end(), [](int32_t w) { return w > 0; });
}

float ModelConfig::AttentionScale() const {
  return query_scale > 0 ? query_scale : 1.0f / std::sqrt(static_cast<float>(head_dim));
}

bool ModelConfig::LocalRope(size_t layer) const { return rope_local_theta > 0 && Window(layer) > 0; }

RopeFrequencies ModelConfig::RopeFrequenciesOf(bool local, bool long_context) const {
  if (local) return ComputeRopeFrequencies(RopeScaling{}, rope_local_theta, head_dim, max_seq_len);
  RopeFrequencies f = ComputeRopeFrequencies(rope_scaling, rope_theta, head_dim, max_seq_len, long_context);
  for (size_t i = 0; i < rope_freq_factors.size() && i < f.inv_freq.size(); ++i) f.inv_freq[i] /= rope_freq_factors[i];
  return f;
}

RopeFrequencies ModelConfig::LayerRopeFrequencies(size_t layer, bool long_context) const {
  return RopeFrequenciesOf(LocalRope(layer), long_context);
}

KvCacheShape ModelConfig::CacheShape() const {
  KvCacheShape s;
  s.n_layers = static_cast<size_t>(n_layers);
  s.n_heads = static_cast<size_t>(n_heads);
  s.n_kv_heads = static_cast<size_t>(n_kv_heads);
  s.head_dim = static_cast<size_t>(head_dim);
  s.rope_style = rope_style;
  if (HasRope()) {
    for (size_t l = 0; l < s.n_layers; ++l) s.layer_rope.push_back(LayerRopeFrequencies(l));
  }
  s.arch_name = ArchName(arch);
  return s;
}

const char* ActivationName(Activation a) {
  switch (a) {
    case Activation::kSiLU: return "silu";
    case Activation::kGeluTanh: return "gelu_tanh";
    case Activation::kGeluErf: return "gelu";
  }
  return "?";
}

void ValidateConfig(const ModelConfig& c, const std::string& source) {
  auto positive = [&](int32_t v, const char* name) {
    if (v <= 0) throw Error(source, std::string(name) + " must be positive, got " + std::to_string(v));
  };
  positive(c.dim, "dim");
  positive(c.n_layers, "n_layers");
  positive(c.n_heads, "n_heads");
  positive(c.n_kv_heads, "n_kv_heads");
  positive(c.head_dim, "head_dim");
  positive(c.ffn_dim, "ffn_dim");
  positive(c.vocab_size, "vocab_size");
  positive(c.max_seq_len, "max_seq_len");
  if (c.n_heads % c.n_kv_heads != 0) {
    throw Error(source, "n_heads (" + std::to_string(c.n_heads) + ") is not a multiple of n_kv_heads (" +
                            std::to_string(c.n_kv_heads) + ")");
  }
  if (c.HasRope() && c.head_dim % 2 != 0) {
    throw Error(source, "head_dim must be even for RoPE, got " + std::to_string(c.head_dim));
  }
  if (!c.layer_window.empty() && c.layer_window.size() != static_cast<size_t>(c.n_layers)) {
    throw Error(source, "layer_window has " + std::to_string(c.layer_window.size()) + " entries for " +
                            std::to_string(c.n_layers) + " layers");
  }
  for (int32_t w : c.layer_window) {
    if (w < 0) throw Error(source, "sliding window must not be negative, got " + std::to_string(w));
  }
  if (c.HasRope()) ValidateRopeScaling(c.rope_scaling, c.head_dim, source);
  if (!c.rope_freq_factors.empty()) {
    if (c.rope_freq_factors.size() != static_cast<size_t>(c.head_dim / 2)) {
      throw Error(source, "rope_freqs has " + std::to_string(c.rope_freq_factors.size()) + " factors, expected head_dim/2 = " +
                              std::to_string(c.head_dim / 2));
    }
    for (float f : c.rope_freq_factors) {
      if (!(f > 0) || !std::isfinite(f)) throw Error(source, "rope_freqs factors must be positive and finite");
    }
  }
  if (c.dim > (1 << 16) || c.n_layers > 1024 || c.vocab_size > (1 << 22) || c.ffn_dim > (1 << 18)) {
    throw Error(source, "implausible model shape (dim, layers, vocab or ffn too large)");
  }
}

}  // namespace kvlab
