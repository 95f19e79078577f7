#include "kvlab/model/convert_gguf.h"

#include <cmath>
#include <numbers>
#include <vector>

#include "kvlab/io/ggml_row_encode.h"
#include "kvlab/io/gguf_writer.h"
#include "kvlab/model/gguf_layout.h"
#include "kvlab/model/loaders.h"
#include "kvlab/util/error.h"

namespace kvlab {
namespace {

using gguf_layout::Key;

// ---- tensors ----------------------------------------------------------------------------------------------

// The type a weight matrix of `cols` columns is written in: llama.cpp's converter falls back to F16 where
// Q8_0's blocks of 32 do not divide a row.
GgmlType MatrixType(GgufOutType t, int64_t cols) {
  switch (t) {
    case GgufOutType::kF32: return GgmlType::kF32;
    case GgufOutType::kF16: return GgmlType::kF16;
    case GgufOutType::kBF16: return GgmlType::kBF16;
    case GgufOutType::kQ8_0: return cols % 32 == 0 ? GgmlType::kQ8_0 : GgmlType::kF16;
  }
  return GgmlType::kF32;
}

// Row order that turns Hugging Face's rotate_half Q/K rows into llama.cpp's adjacent pairs (its
// LlamaModel.permute): within each head, stored row 2i + j comes from row j * head_dim/2 + i.
std::vector<int64_t> InterleavedRowOrder(int64_t rows, int64_t head_dim) {
  std::vector<int64_t> order(static_cast<size_t>(rows));  // [rows] source row of each written row
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t head = r / head_dim, p = r % head_dim;
    order[static_cast<size_t>(r)] = head * head_dim + (p % 2) * (head_dim / 2) + p / 2;
  }
  return order;
}

class TensorList {
 public:
  TensorList(GgufWriter& w, GgufOutType type) : w_(w), type_(type) {}

  // A weight matrix made of the rows of `parts` one after the other (a fused tensor when there are several),
  // reordered by `row_order` (empty: as stored). Written [cols, rows] in GGUF's fastest-first order.
  void Matrix(const std::string& name, std::vector<MatrixView> parts, std::vector<int64_t> row_order = {},
              bool keep_f32 = false) {
    const int64_t cols = parts.at(0).cols;
    int64_t rows = 0;
    for (const MatrixView& p : parts) {
      KVLAB_CHECK(p.cols == cols && !p.empty());
      rows += p.rows;
    }
    KVLAB_CHECK(row_order.empty() || static_cast<int64_t>(row_order.size()) == rows);
    const GgmlType type = keep_f32 ? GgmlType::kF32 : MatrixType(type_, cols);
    w_.AddTensor(name, type, {static_cast<uint64_t>(cols), static_cast<uint64_t>(rows)},
                 [parts = std::move(parts), order = std::move(row_order), type, cols, rows](std::span<uint8_t> out) {
                   std::vector<float> row(static_cast<size_t>(cols));  // [cols]
                   const size_t row_bytes = GgmlTypeBytes(type, static_cast<uint64_t>(cols));
                   for (int64_t r = 0; r < rows; ++r) {
                     int64_t src = order.empty() ? r : order[static_cast<size_t>(r)];
                     size_t part = 0;
                     while (src >= parts[part].rows) src -= parts[part++].rows;
                     const MatrixView& m = parts[part];
                     ConvertToF32(m.dtype, static_cast<const uint8_t*>(m.data) + static_cast<size_t>(src) * m.RowBytes(),
                                  static_cast<size_t>(cols), row.data());
                     EncodeGgmlRow(type, row.data(), row.size(), out.data() + static_cast<size_t>(r) * row_bytes);
                   }
                 });
    ++count_;
  }

  // A 1-D F32 tensor: norms, biases, RoPE factor tables.
  void Vector(const std::string& name, const VectorView& v, std::vector<int64_t> order = {}) {
    KVLAB_CHECK(!v.empty());
    std::vector<float> values(v.data, v.data + v.size);
    if (!order.empty()) {
      for (size_t i = 0; i < values.size(); ++i) values[i] = v.data[order[i]];
    }
    Values(name, std::move(values));
  }
  void Values(const std::string& name, std::vector<float> values) {
    const uint64_t n = values.size();
    w_.AddTensor(name, GgmlType::kF32, {n}, [values = std::move(values)](std::span<uint8_t> out) {
      EncodeGgmlRow(GgmlType::kF32, values.data(), values.size(), out.data());
    });
    ++count_;
  }
  size_t count() const { return count_; }

 private:
  GgufWriter& w_;
  GgufOutType type_;
  size_t count_ = 0;
};

void AddDecoderLayer(TensorList& t, const ModelConfig& c, int layer, const LayerWeights& l) {
  const std::string p = "blk." + std::to_string(layer) + ".";
  const bool permute = gguf_layout::PermutesQK(c.arch);
  const std::vector<int64_t> q_order = permute ? InterleavedRowOrder(c.q_dim(), c.head_dim) : std::vector<int64_t>{};
  const std::vector<int64_t> k_order = permute ? InterleavedRowOrder(c.kv_dim(), c.head_dim) : std::vector<int64_t>{};
  t.Vector(p + "attn_norm.weight", l.attn_norm);
  if (c.arch == Arch::kPhi3) {  // llama.cpp keeps Phi-3's fused projections fused
    t.Matrix(p + "attn_qkv.weight", {l.wq, l.wk, l.wv});
  } else {
    t.Matrix(p + "attn_q.weight", {l.wq}, q_order);
    t.Matrix(p + "attn_k.weight", {l.wk}, k_order);
    t.Matrix(p + "attn_v.weight", {l.wv});
  }
  if (c.qkv_bias) {
    t.Vector(p + "attn_q.bias", l.bq, q_order);
    t.Vector(p + "attn_k.bias", l.bk, k_order);
    t.Vector(p + "attn_v.bias", l.bv);
  }
  if (c.qk_norm) {
    t.Vector(p + "attn_q_norm.weight", l.q_norm);
    t.Vector(p + "attn_k_norm.weight", l.k_norm);
  }
  t.Matrix(p + "attn_output.weight", {l.wo});
  if (c.sandwich_norms) t.Vector(p + "post_attention_norm.weight", l.attn_post_norm);
  t.Vector(p + "ffn_norm.weight", l.ffn_norm);
  if (c.arch == Arch::kPhi3) {  // ffn_up holds [gate | up]
    t.Matrix(p + "ffn_up.weight", {l.w_gate, l.w_up});
  } else {
    t.Matrix(p + "ffn_gate.weight", {l.w_gate});
    t.Matrix(p + "ffn_up.weight", {l.w_up});
  }
  t.Matrix(p + "ffn_down.weight", {l.w_down});
  if (c.sandwich_norms) t.Vector(p + "post_ffw_norm.weight", l.ffn_post_norm);
}

void AddGpt2Layer(TensorList& t, int layer, const LayerWeights& l) {
  const std::string p = "blk." + std::to_string(layer) + ".";
  t.Vector(p + "attn_norm.weight", l.attn_norm);
  t.Vector(p + "attn_norm.bias", l.attn_norm_b);
  t.Matrix(p + "attn_qkv.weight", {l.wq, l.wk, l.wv});
  std::vector<float> qkv_b;  // [3*dim]
  for (const VectorView* v : {&l.bq, &l.bk, &l.bv}) qkv_b.insert(qkv_b.end(), v->data, v->data + v->size);
  t.Values(p + "attn_qkv.bias", std::move(qkv_b));
  t.Matrix(p + "attn_output.weight", {l.wo});
  t.Vector(p + "attn_output.bias", l.bo);
  t.Vector(p + "ffn_norm.weight", l.ffn_norm);
  t.Vector(p + "ffn_norm.bias", l.ffn_norm_b);
  t.Matrix(p + "ffn_up.weight", {l.w_up});
  t.Vector(p + "ffn_up.bias", l.b_up);
  t.Matrix(p + "ffn_down.weight", {l.w_down});
  t.Vector(p + "ffn_down.bias", l.b_down);
}

// llama.cpp's rope_freqs for Llama 3 scaling (LlamaModel.generate_extra_tensors), in float32 as torch
// computes it: per pair, the factor its frequency is divided by.
std::vector<float> Llama3RopeFactors(const ModelConfig& c) {
  const RopeScaling& s = c.rope_scaling;
  const float old_context = static_cast<float>(s.original_max_positions);
  const float low_wavelen = old_context / s.low_freq_factor;
  const float high_wavelen = old_context / s.high_freq_factor;
  std::vector<float> factors;  // [head_dim/2]
  for (int32_t i = 0; i < c.head_dim; i += 2) {
    const float freq = 1.0f / std::pow(c.rope_theta, static_cast<float>(i) / static_cast<float>(c.head_dim));
    const float wavelen = static_cast<float>(2 * std::numbers::pi) / freq;
    if (wavelen < high_wavelen) {
      factors.push_back(1.0f);
    } else if (wavelen > low_wavelen) {
      factors.push_back(s.factor);
    } else {
      const float smooth = (old_context / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
      factors.push_back(1.0f / ((1.0f - smooth) / s.factor + smooth));
    }
  }
  return factors;
}

size_t AddTensors(GgufWriter& w, const LoadedModel& m, GgufOutType type) {
  const ModelConfig& c = m.config;
  const ModelWeights& wt = m.weights;
  TensorList t(w, type);
  t.Matrix("token_embd.weight", {wt.tok_emb});
  if (c.arch == Arch::kGpt2) {
    t.Matrix("position_embd.weight", {wt.pos_emb}, {}, /*keep_f32=*/true);  // llama.cpp keeps positions F32
    for (int i = 0; i < c.n_layers; ++i) AddGpt2Layer(t, i, wt.layers[i]);
    t.Vector("output_norm.bias", wt.final_norm_b);
  } else {
    if (c.rope_scaling.type == RopeScalingType::kLlama3) t.Values("rope_freqs.weight", Llama3RopeFactors(c));
    if (c.rope_scaling.type == RopeScalingType::kLongRope) {
      t.Values("rope_factors_long.weight", c.rope_scaling.long_factor);
      t.Values("rope_factors_short.weight", c.rope_scaling.short_factor);
    }
    for (int i = 0; i < c.n_layers; ++i) AddDecoderLayer(t, c, i, wt.layers[i]);
  }
  t.Vector("output_norm.weight", wt.final_norm);
  if (!c.tied_embeddings) t.Matrix("output.weight", {wt.lm_head});  // tied: llama.cpp reuses token_embd
  return t.count();
}

// ---- metadata ---------------------------------------------------------------------------------------------

// Features of a checkpoint that llama.cpp's layout for its family cannot hold are refused, not dropped.
void CheckRepresentable(const LoadedModel& m, const std::string& source) {
  const ModelConfig& c = m.config;
  const bool gemma = c.arch == Arch::kGemma2 || c.arch == Arch::kGemma3;
  const Activation want = gemma || c.arch == Arch::kGpt2 ? Activation::kGeluTanh : Activation::kSiLU;
  if (c.activation != want) {
    throw Error(source, std::string("activation ") + ActivationName(c.activation) + " cannot be stored: llama.cpp's " +
                            ArchName(c.arch) + " layout implies " + ActivationName(want));
  }
  if (c.rope_scaling.type == RopeScalingType::kLlama3 && !gguf_layout::PermutesQK(c.arch)) {
    throw Error(source, std::string("llama3 RoPE scaling is stored only for llama-architecture files, not ") +
                            ArchName(c.arch));
  }
  if (c.rope_scaling.type == RopeScalingType::kLongRope && c.arch != Arch::kPhi3) {
    throw Error(source, std::string("longrope RoPE scaling is stored only for phi3 files, not ") + ArchName(c.arch));
  }
  if (!m.weights.lm_head_b.empty()) {
    throw Error(source, "lm_head.bias has no place in llama.cpp's gpt2 layout");
  }
}

void WriteSlidingWindows(GgufWriter& w, const std::string& arch, const ModelConfig& c) {
  if (!c.AnySlidingLayer()) {
    if (c.arch == Arch::kPhi3) w.SetU32(Key(arch, "attention.sliding_window"), 0);  // as llama.cpp's converter
    return;
  }
  int32_t window = 0;
  std::vector<bool> sliding(static_cast<size_t>(c.n_layers));
  bool default_pattern = true;
  for (int32_t l = 0; l < c.n_layers; ++l) {
    const int32_t wl = c.Window(static_cast<size_t>(l));
    if (wl > 0 && window > 0 && wl != window) {
      throw Error(ArchName(c.arch), "sliding-window layers of different widths cannot be stored in GGUF");
    }
    if (wl > 0) window = wl;
    sliding[static_cast<size_t>(l)] = wl > 0;
    default_pattern = default_pattern && sliding[static_cast<size_t>(l)] ==
                                         gguf_layout::SlidesInPeriod(l, gguf_layout::DefaultSlidingPeriod(c.arch));
  }
  w.SetU32(Key(arch, "attention.sliding_window"), static_cast<uint32_t>(window));
  if (!default_pattern) w.SetBoolArray(Key(arch, "attention.sliding_window_pattern"), sliding);
}

void WriteGemmaKeys(GgufWriter& w, const std::string& arch, const ModelConfig& c) {
  if (c.arch == Arch::kGemma2 || c.attn_softcap > 0) w.SetF32(Key(arch, "attn_logit_softcapping"), c.attn_softcap);
  if (c.arch == Arch::kGemma2 || c.final_softcap > 0) w.SetF32(Key(arch, "final_logit_softcapping"), c.final_softcap);
  const float scale = c.AttentionScale();
  if (std::fabs(scale - gguf_layout::DefaultGemmaQueryScale(c)) > 1e-6f * scale) w.SetF32(Key(arch, "attention.scale"), scale);
  if (c.arch == Arch::kGemma3 && c.AnySlidingLayer() && c.rope_local_theta != gguf_layout::kDefaultLocalRopeBase) {
    w.SetF32(Key(arch, "rope.freq_base_swa"), c.rope_local_theta);
  }
}

void WriteRopeKeys(GgufWriter& w, const std::string& arch, const ModelConfig& c) {
  w.SetF32(Key(arch, "rope.freq_base"), c.rope_theta);
  if (c.arch == Arch::kLlama || c.arch == Arch::kMistral || c.arch == Arch::kPhi3) {
    w.SetU32(Key(arch, "rope.dimension_count"), static_cast<uint32_t>(c.head_dim));
  }
  const RopeScaling& s = c.rope_scaling;
  if (c.arch == Arch::kPhi3) {  // Phi-3 always names its original context; LongRoPE adds its attention factor
    const int32_t original = s.original_max_positions > 0 ? s.original_max_positions : c.max_seq_len;
    w.SetU32(Key(arch, "rope.scaling.original_context_length"), static_cast<uint32_t>(original));
    if (s.type == RopeScalingType::kLongRope) {
      const double scale = static_cast<double>(c.max_seq_len) / original;
      const double attn = s.attention_factor ? *s.attention_factor
                          : scale > 1.0    ? std::sqrt(1 + std::log(scale) / std::log(static_cast<double>(original)))
                                           : 1.0;
      w.SetF32(Key(arch, "rope.scaling.attn_factor"), static_cast<float>(attn));
    }
    return;
  }
  if (s.type == RopeScalingType::kLinear) {
    w.SetString(Key(arch, "rope.scaling.type"), "linear");
    w.SetF32(Key(arch, "rope.scaling.factor"), s.factor);
  } else if (s.type == RopeScalingType::kYarn) {
    w.SetString(Key(arch, "rope.scaling.type"), "yarn");
    const int32_t original = s.original_max_positions > 0 ? s.original_max_positions : c.max_seq_len;
    const float factor = s.factor_given ? s.factor : static_cast<float>(c.max_seq_len) / static_cast<float>(original);
    w.SetF32(Key(arch, "rope.scaling.factor"), factor);
    w.SetU32(Key(arch, "rope.scaling.original_context_length"), static_cast<uint32_t>(original));
    if (s.attention_factor) w.SetF32(Key(arch, "rope.scaling.yarn_attn_factor"), *s.attention_factor);
    w.SetF32(Key(arch, "rope.scaling.yarn_beta_fast"), s.beta_fast);
    w.SetF32(Key(arch, "rope.scaling.yarn_beta_slow"), s.beta_slow);
  }
}

uint32_t FileType(GgufOutType t) {
  switch (t) {
    case GgufOutType::kF32: return gguf_layout::kFileTypeAllF32;
    case GgufOutType::kF16: return gguf_layout::kFileTypeMostlyF16;
    case GgufOutType::kBF16: return gguf_layout::kFileTypeMostlyBF16;
    case GgufOutType::kQ8_0: return gguf_layout::kFileTypeMostlyQ8_0;
  }
  return 0;
}

void WriteMetadata(GgufWriter& w, const ModelConfig& c, const std::string& arch, const std::string& name,
                   GgufOutType type) {
  auto u32 = [&](const char* suffix, int32_t v) { w.SetU32(Key(arch, suffix), static_cast<uint32_t>(v)); };
  w.SetString("general.architecture", arch);
  w.SetU32("general.quantization_version", gguf_layout::kQuantizationVersion);
  w.SetString("general.name", name);
  w.SetU32("general.file_type", FileType(type));
  u32("context_length", c.max_seq_len);
  u32("embedding_length", c.dim);
  u32("feed_forward_length", c.ffn_dim);
  u32("block_count", c.n_layers);
  u32("attention.head_count", c.n_heads);
  u32("attention.head_count_kv", c.n_kv_heads);
  u32("vocab_size", c.vocab_size);
  if (c.arch == Arch::kGpt2) {
    w.SetF32(Key(arch, "attention.layer_norm_epsilon"), c.norm_eps);
  } else {
    u32("attention.key_length", c.head_dim);
    u32("attention.value_length", c.head_dim);
    w.SetF32(Key(arch, "attention.layer_norm_rms_epsilon"), c.norm_eps);
    WriteRopeKeys(w, arch, c);
    WriteSlidingWindows(w, arch, c);
  }
  if (c.arch == Arch::kGemma2 || c.arch == Arch::kGemma3) WriteGemmaKeys(w, arch, c);
}

// The vocabulary through the caller's hook, else config.json's bos and eos ids alone.
bool WriteVocabulary(GgufWriter& w, const ModelConfig& c, const GgufVocabHook& hook) {
  if (hook && hook(w, c.vocab_size, c.bos_id, c.eos_id)) return true;
  // llama.cpp refuses a file without the key and reads "none" as "no vocabulary": the model then loads
  // there (llama-bench, token ids given directly) as it does in kvlab with a tokenizer given separately.
  w.SetString("tokenizer.ggml.model", "none");
  if (c.bos_id >= 0) w.SetU32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(c.bos_id));
  if (c.eos_id >= 0) w.SetU32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(c.eos_id));
  return false;
}

}  // namespace

const char* GgufOutTypeName(GgufOutType t) {
  switch (t) {
    case GgufOutType::kF32: return "f32";
    case GgufOutType::kF16: return "f16";
    case GgufOutType::kBF16: return "bf16";
    case GgufOutType::kQ8_0: return "q8_0";
  }
  return "?";
}

GgufOutType ParseGgufOutType(const std::string& s, const std::string& what) {
  for (GgufOutType t : {GgufOutType::kF32, GgufOutType::kF16, GgufOutType::kBF16, GgufOutType::kQ8_0}) {
    if (s == GgufOutTypeName(t)) return t;
  }
  throw Error(what, "unknown type \"" + s + "\"", "f32, f16, bf16 or q8_0");
}

GgufConvertResult ConvertHfToGguf(const std::filesystem::path& hf_dir, const std::filesystem::path& out,
                                  const GgufConvertOptions& options) {
  if (!std::filesystem::is_directory(hf_dir)) {
    throw Error(hf_dir.string(), std::filesystem::exists(hf_dir) ? "is not a directory" : "does not exist",
                "convert reads a Hugging Face directory (config.json + *.safetensors)");
  }
  if (std::filesystem::is_directory(out)) throw Error(out.string(), "is a directory", "name the .gguf file to write");
  if (std::filesystem::exists(out) && !options.force) {
    throw Error(out.string(), "already exists", "pass --force to replace it");
  }
  LoadOptions load;
  load.weights = WeightFormat::kAuto;  // matrices as stored: bf16 and f16 sources are read exactly
  const LoadedModel m = LoadHfModel(hf_dir, load);
  const std::string source = (hf_dir / "config.json").string();
  CheckRepresentable(m, source);

  GgufConvertResult result;
  result.arch = m.config.arch;
  result.architecture = gguf_layout::ArchitectureName(m.config.arch);
  std::string name = options.name;
  if (name.empty()) name = std::filesystem::absolute(hf_dir).lexically_normal().filename().string();
  if (name.empty()) name = std::filesystem::absolute(hf_dir).lexically_normal().parent_path().filename().string();
  GgufWriter w;
  WriteMetadata(w, m.config, result.architecture, name, options.type);
  result.vocabulary = WriteVocabulary(w, m.config, options.write_vocab);
  result.tensors = AddTensors(w, m, options.type);
  w.Write(out);
  result.bytes = std::filesystem::file_size(out);
  return result;
}

}  // namespace kvlab
