// GGUF llama models -> ModelWeights. llama.cpp's converters store Q/K rows in Meta's interleaved order
// (they undo the Hugging Face rotate_half permutation), so GGUF llama always uses interleaved RoPE.
#include <limits>
#include <string>

#include "kvlab/io/gguf.h"
#include "kvlab/model/loaders.h"
#include "kvlab/model/weight_builder.h"
#include "kvlab/util/error.h"

namespace kvlab {
namespace {

int32_t Int32(const GgufFile& g, const std::string& key) {
  const int64_t v = g.GetInt(key);
  if (v < 0 || v > std::numeric_limits<int32_t>::max()) {
    throw Error(g.path(), "metadata " + key + " is out of range: " + std::to_string(v));
  }
  return static_cast<int32_t>(v);
}

int32_t Int32Or(const GgufFile& g, const std::string& key, int32_t fallback) {
  return g.Has(key) ? Int32(g, key) : fallback;
}

// The vocabulary size is not a required llama.* key; the embedding's row count is authoritative.
int32_t VocabSize(const GgufFile& g) {
  if (g.Has("llama.vocab_size")) return Int32(g, "llama.vocab_size");
  const GgufTensorInfo* emb = g.FindTensor("token_embd.weight");
  if (emb == nullptr) throw Error(g.path(), "missing tensor token_embd.weight");
  if (emb->shape.size() != 2) throw Error(g.path(), "tensor token_embd.weight is not a matrix");
  return static_cast<int32_t>(emb->shape[1]);
}

ModelConfig GgufLlamaConfig(const GgufFile& g) {
  const std::string arch = g.GetString("general.architecture");
  if (arch != "llama") {
    throw Error(g.path(), "unsupported GGUF architecture " + arch,
                "kvlab loads GGUF files of architecture llama");
  }
  const std::string scaling = g.FindString("llama.rope.scaling.type").value_or("none");
  if (scaling != "none") throw Error(g.path(), "RoPE scaling \"" + scaling + "\" is not supported");
  ModelConfig c;
  c.arch = Arch::kLlama;
  c.dim = Int32(g, "llama.embedding_length");
  c.n_layers = Int32(g, "llama.block_count");
  c.ffn_dim = Int32(g, "llama.feed_forward_length");
  c.n_heads = Int32(g, "llama.attention.head_count");
  c.n_kv_heads = Int32Or(g, "llama.attention.head_count_kv", c.n_heads);
  if (c.n_heads > 0 && c.dim % c.n_heads != 0 && !g.Has("llama.attention.key_length")) {
    throw Error(g.path(), "embedding_length is not divisible by attention.head_count");
  }
  c.head_dim = Int32Or(g, "llama.attention.key_length", c.n_heads > 0 ? c.dim / c.n_heads : 0);
  c.max_seq_len = Int32(g, "llama.context_length");
  c.vocab_size = VocabSize(g);
  c.norm_eps = static_cast<float>(g.FindFloat("llama.attention.layer_norm_rms_epsilon").value_or(1e-5));
  c.rope_theta = static_cast<float>(g.FindFloat("llama.rope.freq_base").value_or(10000.0));
  c.rope_style = RopeStyle::kInterleaved;
  c.activation = Activation::kSiLU;
  c.tied_embeddings = g.FindTensor("output.weight") == nullptr;
  c.bos_id = static_cast<int32_t>(g.FindInt("tokenizer.ggml.bos_token_id").value_or(1));
  c.eos_id = static_cast<int32_t>(g.FindInt("tokenizer.ggml.eos_token_id").value_or(2));
  ValidateConfig(c, g.path());
  return c;
}

void BuildLayer(WeightBuilder& b, const ModelConfig& c, int layer, LayerWeights& l) {
  const std::string p = "blk." + std::to_string(layer) + ".";
  l.attn_norm = b.Vector(p + "attn_norm.weight", c.dim);
  l.wq = b.Matrix(p + "attn_q.weight", c.q_dim(), c.dim);
  l.wk = b.Matrix(p + "attn_k.weight", c.kv_dim(), c.dim);
  l.wv = b.Matrix(p + "attn_v.weight", c.kv_dim(), c.dim);
  l.wo = b.Matrix(p + "attn_output.weight", c.dim, c.q_dim());
  l.ffn_norm = b.Vector(p + "ffn_norm.weight", c.dim);
  l.w_gate = b.Matrix(p + "ffn_gate.weight", c.ffn_dim, c.dim);
  l.w_up = b.Matrix(p + "ffn_up.weight", c.ffn_dim, c.dim);
  l.w_down = b.Matrix(p + "ffn_down.weight", c.dim, c.ffn_dim);
}

}  // namespace

LoadedModel LoadGgufModel(const std::filesystem::path& path, const LoadOptions& options) {
  const GgufFile g = GgufFile::Open(path);
  LoadedModel m;
  m.format = ModelFormat::kGguf;
  m.path = path;
  m.files.push_back(g.file());
  m.config = GgufLlamaConfig(g);
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
  b.KeepStoredDType(options.weights != WeightFormat::kF32);
  m.weights.tok_emb = b.Matrix("token_embd.weight", c.vocab_size, c.dim);
  m.weights.layers.resize(c.n_layers);
  for (int i = 0; i < c.n_layers; ++i) BuildLayer(b, c, i, m.weights.layers[i]);
  m.weights.final_norm = b.Vector("output_norm.weight", c.dim);
  m.weights.lm_head = c.tied_embeddings ? m.weights.tok_emb : b.Matrix("output.weight", c.vocab_size, c.dim);
  return m;
}

}  // namespace kvlab
