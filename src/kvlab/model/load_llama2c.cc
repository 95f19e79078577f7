#include "kvlab/model/load_llama2c.h"

#include <cstring>
#include <limits>
#include <string>

#include "kvlab/util/error.h"

namespace kvlab {
namespace {

constexpr size_t kHeaderBytes = 7 * sizeof(int32_t);

// Hands out consecutive f32 arrays of the checkpoint; the size was checked up front, so this cannot overrun.
class FloatCursor {
 public:
  explicit FloatCursor(const uint8_t* p) : p_(reinterpret_cast<const float*>(p)) {}
  const float* Take(int64_t n) {
    const float* out = p_;
    p_ += n;
    return out;
  }

 private:
  const float* p_;
};

MatrixView F32Matrix(const float* data, int64_t rows, int64_t cols) {
  return MatrixView{DType::kF32, rows, cols, data};
}

// llama2.c stores each kind of tensor for all layers together ([L][...]), so layers are filled kind by kind.
void ReadLayers(FloatCursor& cur, const ModelConfig& c, std::vector<LayerWeights>& layers) {
  const int64_t dim = c.dim, kv = c.kv_dim(), ffn = c.ffn_dim, L = c.n_layers;
  layers.resize(L);
  for (auto& l : layers) l.attn_norm = {cur.Take(dim), dim};
  for (auto& l : layers) l.wq = F32Matrix(cur.Take(dim * dim), dim, dim);
  for (auto& l : layers) l.wk = F32Matrix(cur.Take(kv * dim), kv, dim);
  for (auto& l : layers) l.wv = F32Matrix(cur.Take(kv * dim), kv, dim);
  for (auto& l : layers) l.wo = F32Matrix(cur.Take(dim * dim), dim, dim);
  for (auto& l : layers) l.ffn_norm = {cur.Take(dim), dim};
  for (auto& l : layers) l.w_gate = F32Matrix(cur.Take(ffn * dim), ffn, dim);  // w1
  for (auto& l : layers) l.w_down = F32Matrix(cur.Take(dim * ffn), dim, ffn);  // w2
  for (auto& l : layers) l.w_up = F32Matrix(cur.Take(ffn * dim), ffn, dim);    // w3
}

// Rejects headers that cannot describe a model before any size is computed from them (a tokenizer file or
// other binary passed by mistake then gets a clear message instead of a confusing shape error).
bool PlausibleHeader(const int32_t h[7]) {
  for (int i : {0, 1, 2, 3, 4, 6}) {
    if (h[i] <= 0) return false;
  }
  if (h[5] == 0 || h[5] == std::numeric_limits<int32_t>::min()) return false;
  return h[3] <= h[0] && h[0] % h[3] == 0 && h[4] <= h[3] && h[3] % h[4] == 0;
}

std::string HeaderString(const int32_t h[7]) {
  return "(dim " + std::to_string(h[0]) + ", hidden_dim " + std::to_string(h[1]) + ", n_layers " +
         std::to_string(h[2]) + ", n_heads " + std::to_string(h[3]) + ", n_kv_heads " + std::to_string(h[4]) +
         ", vocab_size " + std::to_string(h[5]) + ", seq_len " + std::to_string(h[6]) + ")";
}

}  // namespace

Llama2cHeader ParseLlama2cHeader(const uint8_t* bytes, size_t size, const std::string& source) {
  if (size >= 4 && std::memcmp(bytes, "ak42", 4) == 0) {
    throw Error(source, "llama2.c version-1/2 export (magic ak42) is not supported",
                "export with --version 0 (legacy), or use the Hugging Face or GGUF file");
  }
  if (size < kHeaderBytes) {
    throw Error(source, "too small for a llama2.c checkpoint (" + std::to_string(size) + " bytes)");
  }
  int32_t h[7];
  std::memcpy(h, bytes, kHeaderBytes);
  if (!PlausibleHeader(h)) {
    throw Error(source, "not a llama2.c checkpoint: implausible header " + HeaderString(h),
                "expected 7 int32: dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len");
  }
  Llama2cHeader out;
  ModelConfig& c = out.config;
  c.arch = Arch::kLlama;
  c.dim = h[0];
  c.ffn_dim = h[1];
  c.n_layers = h[2];
  c.n_heads = h[3];
  c.n_kv_heads = h[4];
  out.shared_classifier = h[5] > 0;
  c.vocab_size = h[5] < 0 ? -h[5] : h[5];
  c.max_seq_len = h[6];
  c.head_dim = c.dim / c.n_heads;
  // Fixed by run.c rather than stored in the file.
  c.norm_eps = 1e-5f;
  c.rope_theta = 10000.0f;
  c.rope_style = RopeStyle::kInterleaved;
  c.activation = Activation::kSiLU;
  c.tied_embeddings = out.shared_classifier;
  c.bos_id = 1;
  c.eos_id = 2;
  ValidateConfig(c, source + " (llama2.c header)");
  return out;
}

int64_t Llama2cFileBytes(const Llama2cHeader& h) {
  const ModelConfig& c = h.config;
  const int64_t dim = c.dim, kv = c.kv_dim(), ffn = c.ffn_dim, L = c.n_layers, vocab = c.vocab_size;
  int64_t floats = vocab * dim;                            // token_embedding
  floats += L * (2 * dim + 2 * dim * dim + 2 * kv * dim);  // rms_att, rms_ffn, wq, wo, wk, wv
  floats += L * 3 * ffn * dim;                             // w1, w2, w3
  floats += dim;                                           // rms_final
  floats += int64_t{c.max_seq_len} * c.head_dim;           // freq_cis_real + imag: 2 x [seq][head/2]
  if (!h.shared_classifier) floats += vocab * dim;         // wcls
  return static_cast<int64_t>(kHeaderBytes) + 4 * floats;
}

LoadedModel LoadLlama2cModel(const std::filesystem::path& path) {
  LoadedModel m;
  m.format = ModelFormat::kLlama2c;
  m.path = path;
  auto file = MappedFile::Open(path);
  m.files.push_back(file);
  const std::string source = path.string();
  const Llama2cHeader h = ParseLlama2cHeader(file->data(), file->size(), source);
  const int64_t expected = Llama2cFileBytes(h);
  if (static_cast<int64_t>(file->size()) != expected) {
    throw Error(source,
                "file has " + std::to_string(file->size()) + " bytes, but its llama2.c header implies " +
                    std::to_string(expected),
                static_cast<int64_t>(file->size()) < expected
                    ? "the file is truncated"
                    : "trailing data: not a legacy llama2.c checkpoint?");
  }
  m.config = h.config;
  const ModelConfig& c = m.config;
  FloatCursor cur(file->data() + kHeaderBytes);
  m.weights.tok_emb = F32Matrix(cur.Take(int64_t{c.vocab_size} * c.dim), c.vocab_size, c.dim);
  ReadLayers(cur, c, m.weights.layers);
  m.weights.final_norm = {cur.Take(c.dim), c.dim};
  cur.Take(int64_t{c.max_seq_len} * c.head_dim);  // freq_cis: kvlab computes RoPE itself
  m.weights.lm_head = h.shared_classifier
                          ? m.weights.tok_emb
                          : F32Matrix(cur.Take(int64_t{c.vocab_size} * c.dim), c.vocab_size, c.dim);
  return m;
}

}  // namespace kvlab
