// GGUF models -> ModelWeights, for the families llama.cpp's converter writes as llama (Llama, Mistral), qwen2,
// qwen3, gemma2, gemma3, phi3 and gpt2 (model/gguf_layout.h). What llama.cpp hard-codes per family rather
// than storing (Gemma's embedding scale and sliding pattern, its local RoPE base, its query scale, the soft-cap
// defaults) is applied here the same way; the few keys kvlab's converter adds where a checkpoint departs from
// those defaults (attention.scale, attention.sliding_window_pattern, rope.freq_base_swa) take precedence.
// Gemma's (1 + w) norms arrive with the 1 already folded in by the converter, so nothing is added here.
#include <cmath>
#include <limits>
#include <string>
#include <variant>
#include <vector>

#include "kvlab/io/gguf.h"
#include "kvlab/model/gguf_layout.h"
#include "kvlab/model/loaders.h"
#include "kvlab/model/weight_builder.h"
#include "kvlab/util/error.h"

namespace kvlab {
namespace {

using gguf_layout::Key;

// Typed access to the "<arch>.*" keys of one file; errors name the file and the key.
class ArchKeys {
 public:
  ArchKeys(const GgufFile& g, std::string arch) : g_(g), arch_(std::move(arch)) {}

  bool Has(const char* suffix) const { return g_.Has(Key(arch_, suffix)); }
  int32_t Int(const char* suffix) const { return Checked(Key(arch_, suffix), g_.GetInt(Key(arch_, suffix))); }
  int32_t Int(const char* suffix, int32_t fallback) const { return Has(suffix) ? Int(suffix) : fallback; }
  float Float(const char* suffix, float fallback) const {
    return static_cast<float>(g_.FindFloat(Key(arch_, suffix)).value_or(fallback));
  }
  std::string String(const char* suffix, const std::string& fallback) const {
    return g_.FindString(Key(arch_, suffix)).value_or(fallback);
  }
  [[noreturn]] void Fail(const char* suffix, const std::string& what) const {
    throw Error(g_.path(), "metadata " + Key(arch_, suffix) + " " + what);
  }
  const GgufFile& file() const { return g_; }

 private:
  int32_t Checked(const std::string& key, int64_t v) const {
    if (v < 0 || v > std::numeric_limits<int32_t>::max()) {
      throw Error(g_.path(), "metadata " + key + " is out of range: " + std::to_string(v));
    }
    return static_cast<int32_t>(v);
  }

  const GgufFile& g_;
  std::string arch_;
};

// An f32 vector tensor copied out of the file (RoPE factor tables).
std::vector<float> F32Vector(const GgufFile& g, const GgufTensorInfo& t) {
  if (t.dtype != DType::kF32 || t.shape.size() != 1) throw Error(g.path(), "tensor " + t.name + " must be a 1-D F32 vector");
  std::vector<float> v(static_cast<size_t>(t.shape[0]));
  ConvertToF32(DType::kF32, t.data, v.size(), v.data());
  return v;
}

// The vocabulary size is not a required key; the embedding's row count is authoritative.
int32_t VocabSize(const ArchKeys& k) {
  if (k.Has("vocab_size")) return k.Int("vocab_size");
  const GgufTensorInfo* emb = k.file().FindTensor("token_embd.weight");
  if (emb == nullptr) throw Error(k.file().path(), "missing tensor token_embd.weight");
  if (emb->shape.size() != 2) throw Error(k.file().path(), "tensor token_embd.weight is not a matrix");
  return static_cast<int32_t>(emb->shape[1]);
}

// <arch>.rope.scaling.* (and the older rope.scale_linear), the rope_freqs table llama.cpp's converter writes
// for Llama 3 scaling, and Phi-3's LongRoPE factor tensors.
void ReadRopeScaling(const ArchKeys& k, ModelConfig& c) {
  const GgufFile& g = k.file();
  const std::string type = k.String("rope.scaling.type", "none");
  RopeScaling& s = c.rope_scaling;
  if (type == "linear") {
    s.type = RopeScalingType::kLinear;
    s.factor = k.Float("rope.scaling.factor", 1.0f);
  } else if (type == "yarn") {
    s.type = RopeScalingType::kYarn;
    s.factor = k.Float("rope.scaling.factor", 1.0f);
    s.original_max_positions = k.Int("rope.scaling.original_context_length", 0);
    s.beta_fast = k.Float("rope.scaling.yarn_beta_fast", 32.0f);
    s.beta_slow = k.Float("rope.scaling.yarn_beta_slow", 1.0f);
    if (k.Has("rope.scaling.yarn_attn_factor")) s.attention_factor = k.Float("rope.scaling.yarn_attn_factor", 1.0f);
  } else if (type == "longrope") {
    s.type = RopeScalingType::kLongRope;
  } else if (type != "none") {
    k.Fail("rope.scaling.type", "\"" + type + "\" is not supported (none, linear, yarn or longrope)");
  }
  if (type == "none" && k.Has("rope.scale_linear") && k.Float("rope.scale_linear", 1.0f) != 1.0f) {
    s.type = RopeScalingType::kLinear;
    s.factor = k.Float("rope.scale_linear", 1.0f);
  }
  const GgufTensorInfo* long_f = g.FindTensor("rope_factors_long.weight");
  const GgufTensorInfo* short_f = g.FindTensor("rope_factors_short.weight");
  if ((long_f != nullptr) != (short_f != nullptr)) {
    throw Error(g.path(), "rope_factors_long.weight and rope_factors_short.weight must come together");
  }
  if (long_f != nullptr) {  // Phi-3 LongRoPE: the tensors are what makes it longrope
    s.type = RopeScalingType::kLongRope;
    s.long_factor = F32Vector(g, *long_f);
    s.short_factor = F32Vector(g, *short_f);
    s.original_max_positions = k.Int("rope.scaling.original_context_length", c.max_seq_len);
    if (k.Has("rope.scaling.attn_factor")) s.attention_factor = k.Float("rope.scaling.attn_factor", 1.0f);
  } else if (s.type == RopeScalingType::kLongRope) {
    throw Error(g.path(), "rope.scaling.type is longrope but the file has no rope_factors_long/short tensors");
  }
  if (const GgufTensorInfo* freqs = g.FindTensor("rope_freqs.weight")) c.rope_freq_factors = F32Vector(g, *freqs);
}

// Which layers slide: attention.sliding_window_pattern when present (a per-layer bool array, or a period),
// else the family's fixed rule in llama.cpp (gguf_layout::DefaultSlidingPeriod).
std::vector<int32_t> LayerWindows(const ArchKeys& k, const ModelConfig& c) {
  const int32_t window = k.Int("attention.sliding_window", c.arch == Arch::kGemma2 ? 4096 : 0);
  if (window <= 0) return {};
  const size_t n = static_cast<size_t>(c.n_layers);
  std::vector<bool> sliding(n);
  const std::string pattern_key = Key(ArchName(c.arch), "attention.sliding_window_pattern");
  const GgufFile& g = k.file();
  if (g.Has(pattern_key) && std::holds_alternative<std::vector<int64_t>>(g.metadata().at(pattern_key))) {
    const std::vector<int64_t>& per_layer = g.GetIntArray(pattern_key);
    if (per_layer.size() != n) k.Fail("attention.sliding_window_pattern", "must list one entry per layer");
    for (size_t i = 0; i < n; ++i) sliding[i] = per_layer[i] != 0;
  } else {
    const int64_t period = g.Has(pattern_key) ? g.GetInt(pattern_key) : gguf_layout::DefaultSlidingPeriod(c.arch);
    for (size_t i = 0; i < n; ++i) sliding[i] = gguf_layout::SlidesInPeriod(static_cast<int64_t>(i), period);
  }
  std::vector<int32_t> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = sliding[i] ? window : 0;
  return out;
}

void ReadGemmaFeatures(const ArchKeys& k, ModelConfig& c) {
  c.sandwich_norms = true;
  c.activation = Activation::kGeluTanh;
  c.embed_scale = static_cast<float>(std::sqrt(static_cast<double>(c.dim)));
  c.query_scale = k.Float("attention.scale", gguf_layout::DefaultGemmaQueryScale(c));
  c.attn_softcap = k.Float("attn_logit_softcapping", c.arch == Arch::kGemma2 ? 50.0f : 0.0f);
  c.final_softcap = k.Float("final_logit_softcapping", c.arch == Arch::kGemma2 ? 30.0f : 0.0f);
  if (c.arch == Arch::kGemma3 && c.AnySlidingLayer()) c.rope_local_theta = k.Float("rope.freq_base_swa", gguf_layout::kDefaultLocalRopeBase);
}

ModelConfig GgufConfig(const GgufFile& g) {
  const std::string name = g.GetString("general.architecture");
  const std::optional<Arch> arch = gguf_layout::ArchFromName(name);
  if (!arch) {
    throw Error(g.path(), "general.architecture: unsupported GGUF architecture " + name,
                "kvlab loads GGUF llama (Llama, Mistral), qwen2, qwen3, gemma2, gemma3, phi3 and gpt2");
  }
  const ArchKeys k(g, name);
  ModelConfig c;
  c.arch = *arch;
  c.dim = k.Int("embedding_length");
  c.n_layers = k.Int("block_count");
  c.ffn_dim = k.Int("feed_forward_length");
  c.n_heads = k.Int("attention.head_count");
  c.n_kv_heads = k.Int("attention.head_count_kv", c.n_heads);
  if (c.n_heads > 0 && c.dim % c.n_heads != 0 && !k.Has("attention.key_length")) {
    k.Fail("embedding_length", "is not divisible by attention.head_count (and there is no attention.key_length)");
  }
  c.head_dim = k.Int("attention.key_length", c.n_heads > 0 ? c.dim / c.n_heads : 0);
  if (k.Int("attention.value_length", c.head_dim) != c.head_dim) {
    k.Fail("attention.value_length", "differs from attention.key_length; kvlab needs equal key and value heads");
  }
  c.max_seq_len = k.Int("context_length");
  c.vocab_size = VocabSize(k);
  c.tied_embeddings = g.FindTensor("output.weight") == nullptr;
  const bool llama_like = c.arch == Arch::kLlama;
  c.bos_id = static_cast<int32_t>(g.FindInt("tokenizer.ggml.bos_token_id").value_or(llama_like ? 1 : -1));
  c.eos_id = static_cast<int32_t>(g.FindInt("tokenizer.ggml.eos_token_id").value_or(llama_like ? 2 : -1));
  if (c.arch == Arch::kGpt2) {
    c.norm_eps = k.Float("attention.layer_norm_epsilon", 1e-5f);
    c.activation = Activation::kGeluTanh;  // llama.cpp's gpt2 graph uses the tanh GELU
    ValidateConfig(c, g.path());
    return c;
  }
  c.norm_eps = k.Float("attention.layer_norm_rms_epsilon", 1e-5f);
  c.rope_theta = k.Float("rope.freq_base", 10000.0f);
  c.rope_style = gguf_layout::PermutesQK(c.arch) ? RopeStyle::kInterleaved : RopeStyle::kHalf;
  c.activation = Activation::kSiLU;
  const int32_t rope_dims = k.Int("rope.dimension_count", c.head_dim);
  if (rope_dims != c.head_dim) k.Fail("rope.dimension_count", "is not the head size; kvlab rotates whole heads");
  ReadRopeScaling(k, c);
  c.qkv_bias = g.FindTensor("blk.0.attn_q.bias") != nullptr;
  c.qk_norm = g.FindTensor("blk.0.attn_q_norm.weight") != nullptr;
  c.layer_window = LayerWindows(k, c);
  if (c.arch == Arch::kGemma2 || c.arch == Arch::kGemma3) ReadGemmaFeatures(k, c);
  ValidateConfig(c, g.path());
  return c;
}

void BuildAttention(WeightBuilder& b, const ModelConfig& c, const std::string& p, LayerWeights& l) {
  if (b.Has(p + "attn_qkv.weight")) {  // fused [q | k | v] (Phi-3)
    const MatrixView qkv = b.Matrix(p + "attn_qkv.weight", c.q_dim() + 2 * c.kv_dim(), c.dim);
    l.wq = RowBlock(qkv, 0, c.q_dim());
    l.wk = RowBlock(qkv, c.q_dim(), c.kv_dim());
    l.wv = RowBlock(qkv, c.q_dim() + c.kv_dim(), c.kv_dim());
  } else {
    l.wq = b.Matrix(p + "attn_q.weight", c.q_dim(), c.dim);
    l.wk = b.Matrix(p + "attn_k.weight", c.kv_dim(), c.dim);
    l.wv = b.Matrix(p + "attn_v.weight", c.kv_dim(), c.dim);
  }
  l.wo = b.Matrix(p + "attn_output.weight", c.dim, c.q_dim());
  if (c.qkv_bias) {
    l.bq = b.Vector(p + "attn_q.bias", c.q_dim());
    l.bk = b.Vector(p + "attn_k.bias", c.kv_dim());
    l.bv = b.Vector(p + "attn_v.bias", c.kv_dim());
  }
  if (c.qk_norm) {
    l.q_norm = b.Vector(p + "attn_q_norm.weight", c.head_dim);
    l.k_norm = b.Vector(p + "attn_k_norm.weight", c.head_dim);
  }
}

void BuildDecoderLayer(WeightBuilder& b, const ModelConfig& c, int layer, LayerWeights& l) {
  const std::string p = "blk." + std::to_string(layer) + ".";
  l.attn_norm = b.Vector(p + "attn_norm.weight", c.dim);
  BuildAttention(b, c, p, l);
  if (c.sandwich_norms) {
    l.attn_post_norm = b.Vector(p + "post_attention_norm.weight", c.dim);
    l.ffn_post_norm = b.Vector(p + "post_ffw_norm.weight", c.dim);
  }
  l.ffn_norm = b.Vector(p + "ffn_norm.weight", c.dim);
  if (c.arch == Arch::kPhi3 && !b.Has(p + "ffn_gate.weight")) {  // ffn_up holds [gate | up]
    const MatrixView gate_up = b.Matrix(p + "ffn_up.weight", 2 * c.ffn_dim, c.dim);
    l.w_gate = RowBlock(gate_up, 0, c.ffn_dim);
    l.w_up = RowBlock(gate_up, c.ffn_dim, c.ffn_dim);
  } else {
    l.w_gate = b.Matrix(p + "ffn_gate.weight", c.ffn_dim, c.dim);
    l.w_up = b.Matrix(p + "ffn_up.weight", c.ffn_dim, c.dim);
  }
  l.w_down = b.Matrix(p + "ffn_down.weight", c.dim, c.ffn_dim);
}

// GPT-2 as llama.cpp stores it: [out][in] matrices (the converter transposes the Conv1D weights) and one
// fused attn_qkv of 3*dim rows.
void BuildGpt2Layer(WeightBuilder& b, const ModelConfig& c, int layer, LayerWeights& l) {
  const std::string p = "blk." + std::to_string(layer) + ".";
  const int64_t dim = c.dim;
  l.attn_norm = b.Vector(p + "attn_norm.weight", dim);
  l.attn_norm_b = b.Vector(p + "attn_norm.bias", dim);
  const MatrixView qkv = b.Matrix(p + "attn_qkv.weight", 3 * dim, dim);
  l.wq = RowBlock(qkv, 0, dim);
  l.wk = RowBlock(qkv, dim, dim);
  l.wv = RowBlock(qkv, 2 * dim, dim);
  const float* qkv_b = b.VectorF32(p + "attn_qkv.bias", 3 * dim);  // [3*dim]
  l.bq = {qkv_b, dim};
  l.bk = {qkv_b + dim, dim};
  l.bv = {qkv_b + 2 * dim, dim};
  l.wo = b.Matrix(p + "attn_output.weight", dim, dim);
  l.bo = b.Vector(p + "attn_output.bias", dim);
  l.ffn_norm = b.Vector(p + "ffn_norm.weight", dim);
  l.ffn_norm_b = b.Vector(p + "ffn_norm.bias", dim);
  l.w_up = b.Matrix(p + "ffn_up.weight", c.ffn_dim, dim);
  l.b_up = b.Vector(p + "ffn_up.bias", c.ffn_dim);
  l.w_down = b.Matrix(p + "ffn_down.weight", dim, c.ffn_dim);
  l.b_down = b.Vector(p + "ffn_down.bias", dim);
}

}  // namespace

LoadedModel LoadGgufModel(const std::filesystem::path& path, const LoadOptions& options) {
  const GgufFile g = GgufFile::Open(path);
  LoadedModel m;
  m.format = ModelFormat::kGguf;
  m.path = path;
  m.files.push_back(g.file());
  m.config = GgufConfig(g);
  const ModelConfig& c = m.config;
  // GGUF lists dimensions fastest-first ([cols, rows]); the builder wants row-major [rows][cols].
  WeightBuilder b(
      m, g.path(),
      [&g](const std::string& name) -> std::optional<StoredTensor> {
        const GgufTensorInfo* t = g.FindTensor(name);
        if (t == nullptr) return std::nullopt;
        std::vector<int64_t> shape(t->shape.rbegin(), t->shape.rend());
        return StoredTensor{t->name, t->dtype, std::move(shape), t->data};
      },
      /*ggml_order=*/true);
  ModelWeights& w = m.weights;
  if (c.arch == Arch::kGpt2) {  // the forward pass reads learned positions as f32, whatever the file holds
    w.pos_emb = b.Matrix("position_embd.weight", c.max_seq_len, c.dim);
  }
  b.KeepStoredDType(options.weights != WeightFormat::kF32);
  w.tok_emb = b.Matrix("token_embd.weight", c.vocab_size, c.dim);
  w.layers.resize(c.n_layers);
  if (c.arch == Arch::kGpt2) {
    for (int i = 0; i < c.n_layers; ++i) BuildGpt2Layer(b, c, i, w.layers[i]);
    w.final_norm_b = b.Vector("output_norm.bias", c.dim);
  } else {
    for (int i = 0; i < c.n_layers; ++i) BuildDecoderLayer(b, c, i, w.layers[i]);
  }
  w.final_norm = b.Vector("output_norm.weight", c.dim);
  w.lm_head = c.tied_embeddings ? w.tok_emb : b.Matrix("output.weight", c.vocab_size, c.dim);
  return m;
}

}  // namespace kvlab
