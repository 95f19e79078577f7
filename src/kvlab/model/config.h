// ModelConfig: everything the forward pass needs to know about a model's shape and numerics,
// independent of the file format it came from.
#pragma once

#include <cstdint>
#include <string>

namespace kvlab {

enum class Arch : uint8_t { kLlama, kGpt2 };

// How RoPE pairs dimensions of a head:
//   kInterleaved: (0,1), (2,3), ...        — Meta / llama2.c / GGUF llama layout
//   kHalf:        (i, i + head_dim/2)      — Hugging Face "rotate_half" (GPT-NeoX) layout
enum class RopeStyle : uint8_t { kInterleaved, kHalf };

enum class Activation : uint8_t {
  kSiLU,      // Llama SwiGLU gate
  kGeluTanh,  // GPT-2 "gelu_new"
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

  int32_t q_dim() const { return n_heads * head_dim; }
  int32_t kv_dim() const { return n_kv_heads * head_dim; }
  // Bytes one token adds to an uncompressed f32 KV cache (K and V, every layer).
  int64_t KvBytesPerToken() const { return int64_t{2} * n_layers * kv_dim() * 4; }
};

const char* ArchName(Arch a);
const char* RopeStyleName(RopeStyle r);
const char* ActivationName(Activation a);

// Throws kvlab::Error (naming `source`) if the shape is inconsistent: zero sizes, heads not dividing dim,
// kv heads not dividing heads, odd head_dim for RoPE, ...
void ValidateConfig(const ModelConfig& c, const std::string& source);

}  // namespace kvlab
