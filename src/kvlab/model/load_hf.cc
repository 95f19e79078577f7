// Hugging Face checkpoints -> ModelWeights: the transformers tensor names of the decoder families
// (Llama, Mistral, Qwen2/3, Gemma 2/3, Phi-3) and of GPT2LMHeadModel.
#include <string>

#include "kvlab/io/safetensors.h"
#include "kvlab/model/hf_config.h"
#include "kvlab/model/loaders.h"
#include "kvlab/model/weight_builder.h"
#include "kvlab/util/error.h"

namespace kvlab {
namespace {

// Gemma's RMSNorm scales by (1 + w): the 1 is folded into an owned copy once, as llama.cpp's converter
// does, so every family runs the same x / rms(x) * w (the same float32 arithmetic as transformers').
VectorView NormWeight(WeightBuilder& b, LoadedModel& m, const std::string& name, int64_t n) {
  const VectorView v = b.Vector(name, n);
  if (m.config.arch != Arch::kGemma2 && m.config.arch != Arch::kGemma3) return v;
  float* plus_one = m.Allocate(static_cast<size_t>(n));  // [n]
  for (int64_t i = 0; i < n; ++i) plus_one[i] = 1.0f + v.data[i];
  return {plus_one, n};
}

void BuildAttention(WeightBuilder& b, LoadedModel& m, const std::string& p, LayerWeights& l) {
  const ModelConfig& c = m.config;
  if (c.arch == Arch::kPhi3) {  // one fused [q | k | v] projection
    const MatrixView qkv = b.Matrix(p + "qkv_proj.weight", c.q_dim() + 2 * c.kv_dim(), c.dim);
    l.wq = RowBlock(qkv, 0, c.q_dim());
    l.wk = RowBlock(qkv, c.q_dim(), c.kv_dim());
    l.wv = RowBlock(qkv, c.q_dim() + c.kv_dim(), c.kv_dim());
  } else {
    l.wq = b.Matrix(p + "q_proj.weight", c.q_dim(), c.dim);
    l.wk = b.Matrix(p + "k_proj.weight", c.kv_dim(), c.dim);
    l.wv = b.Matrix(p + "v_proj.weight", c.kv_dim(), c.dim);
  }
  l.wo = b.Matrix(p + "o_proj.weight", c.dim, c.q_dim());
  if (c.qkv_bias) {
    l.bq = b.Vector(p + "q_proj.bias", c.q_dim());
    l.bk = b.Vector(p + "k_proj.bias", c.kv_dim());
    l.bv = b.Vector(p + "v_proj.bias", c.kv_dim());
  }
  if (c.qk_norm) {
    l.q_norm = NormWeight(b, m, p + "q_norm.weight", c.head_dim);
    l.k_norm = NormWeight(b, m, p + "k_norm.weight", c.head_dim);
  }
}

void BuildMlp(WeightBuilder& b, const ModelConfig& c, const std::string& p, LayerWeights& l) {
  if (c.arch == Arch::kPhi3) {  // one fused [gate | up] projection
    const MatrixView gate_up = b.Matrix(p + "gate_up_proj.weight", 2 * c.ffn_dim, c.dim);
    l.w_gate = RowBlock(gate_up, 0, c.ffn_dim);
    l.w_up = RowBlock(gate_up, c.ffn_dim, c.ffn_dim);
  } else {
    l.w_gate = b.Matrix(p + "gate_proj.weight", c.ffn_dim, c.dim);
    l.w_up = b.Matrix(p + "up_proj.weight", c.ffn_dim, c.dim);
  }
  l.w_down = b.Matrix(p + "down_proj.weight", c.dim, c.ffn_dim);
}

// Llama, Mistral, Qwen2/3, Gemma 2/3 and Phi-3 share the transformers layout model.layers.N.{self_attn,mlp}.
// Gemma's post_attention_layernorm is the norm on the attention output (its MLP input norm is
// pre_feedforward_layernorm); in the others it is the MLP input norm.
void BuildDecoderLayer(WeightBuilder& b, LoadedModel& m, int layer, LayerWeights& l) {
  const ModelConfig& c = m.config;
  const std::string p = "model.layers." + std::to_string(layer) + ".";
  l.attn_norm = NormWeight(b, m, p + "input_layernorm.weight", c.dim);
  BuildAttention(b, m, p + "self_attn.", l);
  if (c.sandwich_norms) {
    l.attn_post_norm = NormWeight(b, m, p + "post_attention_layernorm.weight", c.dim);
    l.ffn_norm = NormWeight(b, m, p + "pre_feedforward_layernorm.weight", c.dim);
    l.ffn_post_norm = NormWeight(b, m, p + "post_feedforward_layernorm.weight", c.dim);
  } else {
    l.ffn_norm = NormWeight(b, m, p + "post_attention_layernorm.weight", c.dim);
  }
  BuildMlp(b, c, p + "mlp.", l);
}

void BuildDecoder(WeightBuilder& b, LoadedModel& m) {
  const ModelConfig& c = m.config;
  ModelWeights& w = m.weights;
  // Tied checkpoints may store the shared matrix under either name: transformers drops one of the two
  // when saving, and TinyStories-656K keeps only lm_head.weight (its __metadata__ calls embed_tokens an
  // alias).
  const char* emb_name = "model.embed_tokens.weight";
  if (c.tied_embeddings && !b.Has(emb_name) && b.Has("lm_head.weight")) emb_name = "lm_head.weight";
  w.tok_emb = b.Matrix(emb_name, c.vocab_size, c.dim);
  w.layers.resize(c.n_layers);
  for (int i = 0; i < c.n_layers; ++i) BuildDecoderLayer(b, m, i, w.layers[i]);
  w.final_norm = NormWeight(b, m, "model.norm.weight", c.dim);
  w.lm_head = c.tied_embeddings ? w.tok_emb : b.Matrix("lm_head.weight", c.vocab_size, c.dim);
}

MatrixView F32Matrix(const float* data, int64_t rows, int64_t cols) {
  return MatrixView{DType::kF32, rows, cols, data};
}

// GPT-2 uses Conv1D ([in][out]) everywhere, and one fused c_attn for q, k and v: transposed to [3*dim][dim]
// once, the three projections are consecutive row blocks of it.
void BuildGpt2Layer(WeightBuilder& b, const ModelConfig& c, const std::string& h, LayerWeights& l) {
  const int64_t dim = c.dim, ffn = c.ffn_dim;
  l.attn_norm = b.Vector(h + "ln_1.weight", dim);
  l.attn_norm_b = b.Vector(h + "ln_1.bias", dim);
  const float* qkv = b.TransposedF32(h + "attn.c_attn.weight", dim, 3 * dim);  // [3*dim][dim]
  l.wq = F32Matrix(qkv, dim, dim);
  l.wk = F32Matrix(qkv + dim * dim, dim, dim);
  l.wv = F32Matrix(qkv + 2 * dim * dim, dim, dim);
  const float* qkv_b = b.VectorF32(h + "attn.c_attn.bias", 3 * dim);  // [3*dim]
  l.bq = {qkv_b, dim};
  l.bk = {qkv_b + dim, dim};
  l.bv = {qkv_b + 2 * dim, dim};
  l.wo = F32Matrix(b.TransposedF32(h + "attn.c_proj.weight", dim, dim), dim, dim);
  l.bo = b.Vector(h + "attn.c_proj.bias", dim);
  l.ffn_norm = b.Vector(h + "ln_2.weight", dim);
  l.ffn_norm_b = b.Vector(h + "ln_2.bias", dim);
  l.w_up = F32Matrix(b.TransposedF32(h + "mlp.c_fc.weight", dim, ffn), ffn, dim);
  l.b_up = b.Vector(h + "mlp.c_fc.bias", ffn);
  l.w_down = F32Matrix(b.TransposedF32(h + "mlp.c_proj.weight", ffn, dim), dim, ffn);
  l.b_down = b.Vector(h + "mlp.c_proj.bias", dim);
}

// `c` is updated: whether the head is tied follows the file (lm_head.weight present or not).
void BuildGpt2(WeightBuilder& b, ModelConfig& c, ModelWeights& w) {
  // GPT2LMHeadModel saves "transformer.wte.weight"; a bare GPT2Model (and some conversions) saves
  // "wte.weight".
  const std::string p = b.Has("transformer.wte.weight") ? "transformer." : "";
  w.tok_emb = b.Matrix(p + "wte.weight", c.vocab_size, c.dim);
  w.pos_emb = b.Matrix(p + "wpe.weight", c.max_seq_len, c.dim);
  w.layers.resize(c.n_layers);
  for (int i = 0; i < c.n_layers; ++i) BuildGpt2Layer(b, c, p + "h." + std::to_string(i) + ".", w.layers[i]);
  w.final_norm = b.Vector(p + "ln_f.weight", c.dim);
  w.final_norm_b = b.Vector(p + "ln_f.bias", c.dim);
  c.tied_embeddings = !b.Has("lm_head.weight");
  w.lm_head = c.tied_embeddings ? w.tok_emb : b.Matrix("lm_head.weight", c.vocab_size, c.dim);
  if (b.Has("lm_head.bias")) w.lm_head_b = b.Vector("lm_head.bias", c.vocab_size);
}

}  // namespace

LoadedModel LoadHfModel(const std::filesystem::path& dir, const LoadOptions& options) {
  LoadedModel m;
  m.format = ModelFormat::kSafetensors;
  m.path = dir;
  m.config = ReadHfConfig(dir / "config.json");
  const SafetensorsCheckpoint ckpt = SafetensorsCheckpoint::OpenDirectory(dir);
  m.files = ckpt.MappedFiles();
  WeightBuilder b(m, ckpt.Describe(), [&ckpt](const std::string& name) -> std::optional<StoredTensor> {
    const SafetensorsTensor* t = ckpt.Find(name);
    if (t == nullptr) return std::nullopt;
    return StoredTensor{t->name, t->dtype, t->shape, t->data};
  });
  b.KeepStoredDType(options.weights != WeightFormat::kF32);
  if (m.config.arch == Arch::kGpt2) {
    BuildGpt2(b, m.config, m.weights);
  } else {
    BuildDecoder(b, m);
  }
  ValidateConfig(m.config, ckpt.Describe());
  return m;
}

}  // namespace kvlab
