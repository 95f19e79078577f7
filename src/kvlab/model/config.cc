#include "kvlab/model/config.h"

#include "kvlab/util/error.h"

namespace kvlab {

const char* ArchName(Arch a) { return a == Arch::kLlama ? "llama" : "gpt2"; }
const char* RopeStyleName(RopeStyle r) { return r == RopeStyle::kInterleaved ? "interleaved" : "half"; }
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
  if (c.arch == Arch::kLlama && c.head_dim % 2 != 0) {
    throw Error(source, "head_dim must be even for RoPE, got " + std::to_string(c.head_dim));
  }
  if (c.dim > (1 << 16) || c.n_layers > 1024 || c.vocab_size > (1 << 22) || c.ffn_dim > (1 << 18)) {
    throw Error(source, "implausible model shape (dim, layers, vocab or ffn too large)");
  }
}

}  // namespace kvlab
