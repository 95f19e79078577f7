#include "kvlab/model/presets.h"

#include <cmath>

#include "kvlab/util/error.h"

namespace kvlab {
namespace {

// The sizes every decoder preset states; head_dim is given because Qwen3 and Gemma do not use dim / heads.
struct Shape {
  int32_t dim, layers, heads, kv_heads, head_dim, ffn, vocab, ctx;
};

// A Llama-2-style decoder as ParseHfConfig reads it back: HF's rotate_half RoPE layout, SwiGLU, no family
// features. The family functions below add what each family's config.json implies.
ModelConfig Decoder(Arch arch, const Shape& s, bool tied) {
  ModelConfig c;
  c.arch = arch;
  c.dim = s.dim;
  c.n_layers = s.layers;
  c.n_heads = s.heads;
  c.n_kv_heads = s.kv_heads;
  c.head_dim = s.head_dim;
  c.ffn_dim = s.ffn;
  c.vocab_size = s.vocab;
  c.max_seq_len = s.ctx;
  c.norm_eps = 1e-5f;
  c.rope_theta = 10000.0f;
  c.rope_style = RopeStyle::kHalf;
  c.activation = Activation::kSiLU;
  c.tied_embeddings = tied;
  c.bos_id = 1;
  c.eos_id = 2;
  return c;
}

ModelConfig Llama(int32_t dim, int32_t layers, int32_t heads, int32_t kv_heads, int32_t ffn, int32_t vocab,
                  int32_t ctx, bool tied) {
  return Decoder(Arch::kLlama, {dim, layers, heads, kv_heads, dim / heads, ffn, vocab, ctx}, tied);
}

// Llama 3.x: rope_theta 500000 and the llama3 frequency scaling (factor, low, high, original context).
ModelConfig Llama3(const Shape& s, float factor, int32_t original_ctx, bool tied) {
  ModelConfig c = Decoder(Arch::kLlama, s, tied);
  c.rope_theta = 500000.0f;
  c.rope_scaling.type = RopeScalingType::kLlama3;
  c.rope_scaling.factor = factor;
  c.rope_scaling.low_freq_factor = 1.0f;
  c.rope_scaling.high_freq_factor = 4.0f;
  c.rope_scaling.original_max_positions = original_ctx;
  c.bos_id = 128000;  // <|begin_of_text|>
  c.eos_id = 128001;  // <|end_of_text|>
  return c;
}

// Every layer slides over the same window (Mistral, Phi-3).
std::vector<int32_t> AllSliding(int32_t layers, int32_t window) {
  return std::vector<int32_t>(static_cast<size_t>(layers), window);
}

ModelConfig Mistral(const Shape& s, int32_t window) {
  ModelConfig c = Decoder(Arch::kMistral, s, /*tied=*/false);
  c.layer_window = AllSliding(s.layers, window);
  return c;
}

// Qwen2/2.5 (q/k/v biases) and Qwen3 (q/k norms): rope_theta 1e6, RMSNorm eps 1e-6, Qwen's <|endoftext|>
// as bos, no sliding window (use_sliding_window false in the released configs).
ModelConfig Qwen(Arch arch, const Shape& s, int32_t eos) {
  ModelConfig c = Decoder(arch, s, /*tied=*/true);
  c.norm_eps = 1e-6f;
  c.rope_theta = 1000000.0f;
  c.qkv_bias = arch == Arch::kQwen2;
  c.qk_norm = arch == Arch::kQwen3;
  c.bos_id = 151643;
  c.eos_id = eos;
  return c;
}

// Gemma 2 / 3: GeGLU, (1 + w) sandwich norms, embeddings scaled by sqrt(dim), attention scaled by
// query_pre_attn_scalar^-1/2, tied head; bos 2, eos 1.
ModelConfig Gemma(Arch arch, const Shape& s, float query_pre_attn_scalar) {
  ModelConfig c = Decoder(arch, s, /*tied=*/true);
  c.norm_eps = 1e-6f;
  c.activation = Activation::kGeluTanh;  // gelu_pytorch_tanh
  c.sandwich_norms = true;
  c.embed_scale = static_cast<float>(std::sqrt(static_cast<double>(s.dim)));
  c.query_scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(query_pre_attn_scalar)));
  c.bos_id = 2;
  c.eos_id = 1;
  return c;
}

// Gemma 2: even layers slide, odd layers are global; soft-capped attention (50) and output (30) logits.
ModelConfig Gemma2(const Shape& s, float query_pre_attn_scalar, int32_t window) {
  ModelConfig c = Gemma(Arch::kGemma2, s, query_pre_attn_scalar);
  c.attn_softcap = 50.0f;
  c.final_softcap = 30.0f;
  for (int32_t i = 0; i < s.layers; ++i) c.layer_window.push_back(i % 2 == 0 ? window : 0);
  return c;
}

// Gemma 3: q/k norms; every pattern-th layer is global (rope_theta 1e6), the others slide and rotate with the
// local base 1e4.
ModelConfig Gemma3(const Shape& s, float query_pre_attn_scalar, int32_t window, int32_t pattern) {
  ModelConfig c = Gemma(Arch::kGemma3, s, query_pre_attn_scalar);
  c.qk_norm = true;
  c.rope_theta = 1000000.0f;
  c.rope_local_theta = 10000.0f;
  for (int32_t i = 0; i < s.layers; ++i) c.layer_window.push_back((i + 1) % pattern != 0 ? window : 0);
  return c;
}

// Phi-3: fused qkv_proj and gate_up_proj, every layer sliding; eos is <|endoftext|> 32000.
ModelConfig Phi3(const Shape& s, int32_t window) {
  ModelConfig c = Decoder(Arch::kPhi3, s, /*tied=*/false);
  c.layer_window = AllSliding(s.layers, window);
  c.eos_id = 32000;
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

// Token ids a tiny vocabulary holds (the released models' ids lie beyond it).
ModelConfig WithIds(ModelConfig c, int32_t bos, int32_t eos) {
  c.bos_id = bos;
  c.eos_id = eos;
  return c;
}

// The released models' sizes, RoPE, windows and token ids are those of their Hugging Face config.json
// (meta-llama/Llama-3.2-1B, Qwen/Qwen2.5-0.5B, Qwen/Qwen3-0.6B, google/gemma-3-1b-pt,
// mistralai/Mistral-7B-v0.1, microsoft/Phi-3-mini-4k-instruct).
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
      {"llama-3.2-1b",
       "Llama 3.2 1B: dim 2048, 16 layers, 32 heads / 8 kv, ffn 8192, vocab 128256, ctx 131072, llama3 RoPE "
       "scaling x32 from 8192, tied",
       Llama3({2048, 16, 32, 8, 64, 8192, 128256, 131072}, 32.0f, 8192, true)},
      {"qwen2.5-0.5b",
       "Qwen2.5 0.5B: dim 896, 24 layers, 14 heads / 2 kv, ffn 4864, vocab 151936, ctx 32768, q/k/v biases, "
       "tied",
       Qwen(Arch::kQwen2, {896, 24, 14, 2, 64, 4864, 151936, 32768}, 151643)},
      {"qwen3-0.6b",
       "Qwen3 0.6B: dim 1024, 28 layers, 16 heads / 8 kv, head_dim 128, ffn 3072, vocab 151936, ctx 40960, "
       "q/k norms, tied",
       Qwen(Arch::kQwen3, {1024, 28, 16, 8, 128, 3072, 151936, 40960}, 151645)},
      {"gemma-3-1b",
       "Gemma 3 1B: dim 1152, 26 layers, 4 heads / 1 kv, head_dim 256, ffn 6912, vocab 262144, ctx 32768, "
       "5 of 6 layers slide over 512, tied",
       Gemma3({1152, 26, 4, 1, 256, 6912, 262144, 32768}, 256.0f, 512, 6)},
      {"mistral-7b",
       "Mistral 7B v0.1: dim 4096, 32 layers, 32 heads / 8 kv, ffn 14336, vocab 32000, ctx 32768, every "
       "layer slides over 4096",
       Mistral({4096, 32, 32, 8, 128, 14336, 32000, 32768}, 4096)},
      {"phi-3-mini",
       "Phi-3 mini 4k: dim 3072, 32 layers, 32 heads, ffn 8192, vocab 32064, ctx 4096, every layer slides "
       "over 2047, fused qkv",
       Phi3({3072, 32, 32, 32, 96, 8192, 32064, 4096}, 2047)},
      {"llama-tiny",
       "test model: dim 64, 2 layers, 4 heads / 2 kv heads, ffn 128, vocab 512, ctx 128, untied",
       Llama(64, 2, 4, 2, 128, 512, 128, false)},
      {"gpt2-tiny", "test model: dim 64, 2 layers, 4 heads, ffn 256, vocab 256, ctx 64, tied",
       Gpt2(64, 2, 4, 256, 64, true)},
      {"llama3-tiny", "test model: llama-tiny's shape, tied, llama3 RoPE scaling x8 from 32",
       WithIds(Llama3({64, 2, 4, 2, 16, 128, 512, 128}, 8.0f, 32, true), 1, 2)},
      {"mistral-tiny", "test model: dim 64, 3 layers, 4 heads / 2 kv, ffn 128, vocab 512, ctx 128, window 16",
       Mistral({64, 3, 4, 2, 16, 128, 512, 128}, 16)},
      {"qwen2-tiny",
       "test model: dim 64, 2 layers, 4 heads / 2 kv, ffn 128, vocab 512, ctx 128, q/k/v biases",
       WithIds(Qwen(Arch::kQwen2, {64, 2, 4, 2, 16, 128, 512, 128}, 0), 510, 511)},
      {"qwen3-tiny",
       "test model: dim 64, 2 layers, 4 heads / 2 kv, head_dim 32, ffn 128, vocab 512, ctx 128, q/k norms",
       WithIds(Qwen(Arch::kQwen3, {64, 2, 4, 2, 32, 128, 512, 128}, 0), 510, 511)},
      {"gemma2-tiny",
       "test model: dim 64, 4 layers, 4 heads / 2 kv, head_dim 16, ffn 128, vocab 512, ctx 128, even layers "
       "slide over 16, soft-capped",
       Gemma2({64, 4, 4, 2, 16, 128, 512, 128}, 24.0f, 16)},
      {"gemma3-tiny",
       "test model: dim 64, 4 layers, 4 heads / 2 kv, head_dim 24, ffn 128, vocab 512, ctx 128, layer 2 "
       "global, "
       "others slide over 16",
       Gemma3({64, 4, 4, 2, 24, 128, 512, 128}, 32.0f, 16, 3)},
      {"phi3-tiny",
       "test model: dim 64, 2 layers, 4 heads, ffn 128, vocab 512, ctx 128, window 16, fused qkv",
       WithIds(Phi3({64, 2, 4, 4, 16, 128, 512, 128}, 16), 1, 2)},
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
