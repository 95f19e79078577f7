#include "kvlab/model/presets.h"

#include "kvlab/util/error.h"

namespace kvlab {
namespace {

// Written as Hugging Face checkpoints, so Llama presets use HF's rotate_half RoPE layout.
ModelConfig Llama(int32_t dim, int32_t layers, int32_t heads, int32_t kv_heads, int32_t ffn, int32_t vocab,
                  int32_t ctx, bool tied) {
  ModelConfig c;
  c.arch = Arch::kLlama;
  c.dim = dim;
  c.n_layers = layers;
  c.n_heads = heads;
  c.n_kv_heads = kv_heads;
  c.head_dim = dim / heads;
  c.ffn_dim = ffn;
  c.vocab_size = vocab;
  c.max_seq_len = ctx;
  c.norm_eps = 1e-5f;
  c.rope_theta = 10000.0f;
  c.rope_style = RopeStyle::kHalf;
  c.activation = Activation::kSiLU;
  c.tied_embeddings = tied;
  c.bos_id = 1;
  c.eos_id = 2;
  return c;
}

ModelConfig Gpt2(int32_t dim, int32_t layers, int32_t heads, int32_t vocab, int32_t ctx, bool tied) {
  ModelConfig c;
  c.arch = Arch::kGpt2;
  c.dim = dim;
  c.n_layers = layers;
  c.n_heads = heads;
  c.n_kv_heads = heads;
  c.head_dim = dim / heads;
  c.ffn_dim = 4 * dim;
  c.vocab_size = vocab;
  c.max_seq_len = ctx;
  c.norm_eps = 1e-5f;
  c.activation = Activation::kGeluTanh;  // gelu_new
  c.tied_embeddings = tied;
  c.bos_id = vocab - 1;  // GPT-2's <|endoftext|> is the last id (50256)
  c.eos_id = vocab - 1;
  return c;
}

std::vector<ModelPreset> MakePresets() {
  return {
      {"llama-110m",
       "llama2.c stories110M shape: dim 768, 12 layers, 12 heads, ffn 2048, vocab 32000, ctx 1024",
       Llama(768, 12, 12, 12, 2048, 32000, 1024, true)},
      {"llama-42m", "llama2.c stories42M shape: dim 512, 8 layers, 8 heads, ffn 1376, vocab 32000, ctx 1024",
       Llama(512, 8, 8, 8, 1376, 32000, 1024, true)},
      {"llama-15m", "llama2.c stories15M shape: dim 288, 6 layers, 6 heads, ffn 768, vocab 32000, ctx 256",
       Llama(288, 6, 6, 6, 768, 32000, 256, true)},
      {"gpt2-124m", "GPT-2 small: dim 768, 12 layers, 12 heads, ffn 3072, vocab 50257, ctx 1024, tied",
       Gpt2(768, 12, 12, 50257, 1024, true)},
      {"llama-tiny",
       "test model: dim 64, 2 layers, 4 heads / 2 kv heads, ffn 128, vocab 512, ctx 128, untied",
       Llama(64, 2, 4, 2, 128, 512, 128, false)},
      {"gpt2-tiny", "test model: dim 64, 2 layers, 4 heads, ffn 256, vocab 256, ctx 64, tied",
       Gpt2(64, 2, 4, 256, 64, true)},
  };
}

}  // namespace

const std::vector<ModelPreset>& ModelPresets() {
  static const std::vector<ModelPreset> presets = MakePresets();
  return presets;
}

const ModelPreset& FindModelPreset(std::string_view name) {
  std::string names;
  for (const ModelPreset& p : ModelPresets()) {
    if (p.name == name) return p;
    names += (names.empty() ? "" : ", ") + p.name;
  }
  throw Error("--preset", "unknown preset " + std::string(name), "one of: " + names);
}

}  // namespace kvlab
