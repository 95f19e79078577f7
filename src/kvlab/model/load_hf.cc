// Hugging Face checkpoints -> ModelWeights: LlamaForCausalLM and GPT2LMHeadModel tensor names.
#include <string>

#include "kvlab/io/hf_config.h"
#include "kvlab/io/safetensors.h"
#include "kvlab/model/loaders.h"
#include "kvlab/model/weight_builder.h"
#include "kvlab/util/error.h"

namespace kvlab {
namespace {

void BuildLlamaLayer(WeightBuilder& b, const ModelConfig& c, int layer, LayerWeights& l) {
  const std::string p = "model.layers." + std::to_string(layer) + ".";
  l.attn_norm = b.Vector(p + "input_layernorm.weight", c.dim);
  l.wq = b.Matrix(p + "self_attn.q_proj.weight", c.q_dim(), c.dim);
  l.wk = b.Matrix(p + "self_attn.k_proj.weight", c.kv_dim(), c.dim);
  l.wv = b.Matrix(p + "self_attn.v_proj.weight", c.kv_dim(), c.dim);
  l.wo = b.Matrix(p + "self_attn.o_proj.weight", c.dim, c.q_dim());
  l.ffn_norm = b.Vector(p + "post_attention_layernorm.weight", c.dim);
  l.w_gate = b.Matrix(p + "mlp.gate_proj.weight", c.ffn_dim, c.dim);
  l.w_up = b.Matrix(p + "mlp.up_proj.weight", c.ffn_dim, c.dim);
  l.w_down = b.Matrix(p + "mlp.down_proj.weight", c.dim, c.ffn_dim);
}

void BuildLlama(WeightBuilder& b, const ModelConfig& c, ModelWeights& w) {
  // Tied checkpoints may store the shared matrix under either name: transformers drops one of the two
  // when saving, and TinyStories-656K keeps only lm_head.weight (its __metadata__ calls embed_tokens an
  // alias).
  const char* emb_name = "model.embed_tokens.weight";
  if (c.tied_embeddings && !b.Has(emb_name) && b.Has("lm_head.weight")) emb_name = "lm_head.weight";
  w.tok_emb = b.Matrix(emb_name, c.vocab_size, c.dim);
  w.layers.resize(c.n_layers);
  for (int i = 0; i < c.n_layers; ++i) BuildLlamaLayer(b, c, i, w.layers[i]);
  w.final_norm = b.Vector("model.norm.weight", c.dim);
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
  if (m.config.arch == Arch::kLlama) {
    BuildLlama(b, m.config, m.weights);
  } else {
    BuildGpt2(b, m.config, m.weights);
  }
  ValidateConfig(m.config, ckpt.Describe());
  return m;
}

}  // namespace kvlab
