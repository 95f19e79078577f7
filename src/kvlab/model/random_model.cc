#include "kvlab/model/random_model.h"

#include <unistd.h>

#include <cmath>
#include <cstring>
#include <numbers>

#include "kvlab/io/safetensors.h"
#include "kvlab/model/hf_config.h"
#include "kvlab/util/atomic_file.h"
#include "kvlab/util/error.h"

namespace kvlab {
namespace {

namespace fs = std::filesystem;

uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint64_t Fnv1a(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char ch : s) h = (h ^ ch) * 0x100000001b3ull;
  return h;
}

// N(0, stddev) by Box-Muller over splitmix64: a fixed, documented generator, so a (seed, name) pair means
// the same numbers on every platform and standard library.
class NormalStream {
 public:
  NormalStream(uint64_t seed, std::string_view name, float stddev)
      : state_(seed ^ Fnv1a(name)), stddev_(stddev) {}

  float Next() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double u1 = (static_cast<double>(SplitMix64(state_) >> 11) + 1.0) * 0x1.0p-53;  // (0, 1]
    const double u2 = static_cast<double>(SplitMix64(state_) >> 11) * 0x1.0p-53;          // [0, 1)
    const double r = std::sqrt(-2.0 * std::log(u1)) * stddev_;
    spare_ = static_cast<float>(r * std::sin(2.0 * std::numbers::pi * u2));
    has_spare_ = true;
    return static_cast<float>(r * std::cos(2.0 * std::numbers::pi * u2));
  }

 private:
  uint64_t state_;
  double stddev_;
  float spare_ = 0.0f;
  bool has_spare_ = false;
};

void EncodeValue(DType t, float v, uint8_t* out) {
  if (t == DType::kF32) {
    std::memcpy(out, &v, 4);
    return;
  }
  const uint16_t h = t == DType::kF16 ? F32ToF16(v) : F32ToBf16(v);
  std::memcpy(out, &h, 2);
}

// Streams the values straight into the writer's buffer: no second full-size copy of a large embedding.
void FillTensor(const HfTensorSpec& spec, const RandomModelOptions& o, std::span<uint8_t> out) {
  const size_t elem = DTypeBytes(o.dtype, 1);
  const size_t n = out.size() / elem;
  NormalStream normal(o.seed, spec.name, o.stddev);
  for (size_t i = 0; i < n; ++i) {
    const float v = spec.init == TensorInit::kNormal ? normal.Next()
                    : spec.init == TensorInit::kOnes ? 1.0f
                                                     : 0.0f;
    EncodeValue(o.dtype, v, out.data() + i * elem);
  }
}

// Gemma stores its norm weights as w of (1 + w): zeros are the neutral norm that ones are elsewhere.
TensorInit NeutralNorm(const ModelConfig& c) {
  return c.arch == Arch::kGemma2 || c.arch == Arch::kGemma3 ? TensorInit::kZeros : TensorInit::kOnes;
}

void AddAttention(const ModelConfig& c, const std::string& p, std::vector<HfTensorSpec>& t) {
  const int64_t dim = c.dim, q = c.q_dim(), kv = c.kv_dim();
  if (c.arch == Arch::kPhi3) {
    t.push_back({p + "qkv_proj.weight", {q + 2 * kv, dim}});  // fused [q | k | v] rows
  } else {
    t.push_back({p + "q_proj.weight", {q, dim}});
    t.push_back({p + "k_proj.weight", {kv, dim}});
    t.push_back({p + "v_proj.weight", {kv, dim}});
  }
  // Random rather than transformers' zeros, so that a round trip through the loader checks the biases too.
  if (c.qkv_bias) {
    t.push_back({p + "q_proj.bias", {q}});
    t.push_back({p + "k_proj.bias", {kv}});
    t.push_back({p + "v_proj.bias", {kv}});
  }
  if (c.qk_norm) {
    t.push_back({p + "q_norm.weight", {c.head_dim}, NeutralNorm(c)});
    t.push_back({p + "k_norm.weight", {c.head_dim}, NeutralNorm(c)});
  }
  t.push_back({p + "o_proj.weight", {dim, q}});
}

void AddMlp(const ModelConfig& c, const std::string& p, std::vector<HfTensorSpec>& t) {
  const int64_t dim = c.dim, ffn = c.ffn_dim;
  if (c.arch == Arch::kPhi3) {
    t.push_back({p + "gate_up_proj.weight", {2 * ffn, dim}});  // fused [gate | up] rows
  } else {
    t.push_back({p + "gate_proj.weight", {ffn, dim}});
    t.push_back({p + "up_proj.weight", {ffn, dim}});
  }
  t.push_back({p + "down_proj.weight", {dim, ffn}});
}

// The transformers layout every decoder family shares. Gemma's post_attention_layernorm normalises the
// attention output (its MLP input norm is pre_feedforward_layernorm); elsewhere it is the MLP input norm.
void AddDecoderLayer(const ModelConfig& c, int i, std::vector<HfTensorSpec>& t) {
  const std::string p = "model.layers." + std::to_string(i) + ".";
  const int64_t dim = c.dim;
  t.push_back({p + "input_layernorm.weight", {dim}, NeutralNorm(c)});
  AddAttention(c, p + "self_attn.", t);
  t.push_back({p + "post_attention_layernorm.weight", {dim}, NeutralNorm(c)});
  if (c.sandwich_norms) {
    t.push_back({p + "pre_feedforward_layernorm.weight", {dim}, NeutralNorm(c)});
    t.push_back({p + "post_feedforward_layernorm.weight", {dim}, NeutralNorm(c)});
  }
  AddMlp(c, p + "mlp.", t);
}

// GPT-2's Conv1D stores weights [in][out]; its linear biases are random here (transformers zeroes them) so
// that a round trip through the loader checks the bias split too.
void AddGpt2Layer(const ModelConfig& c, int i, std::vector<HfTensorSpec>& t) {
  const std::string p = "transformer.h." + std::to_string(i) + ".";
  const int64_t dim = c.dim, ffn = c.ffn_dim;
  t.push_back({p + "ln_1.weight", {dim}, TensorInit::kOnes});
  t.push_back({p + "ln_1.bias", {dim}, TensorInit::kZeros});
  t.push_back({p + "attn.c_attn.weight", {dim, 3 * dim}});
  t.push_back({p + "attn.c_attn.bias", {3 * dim}});
  t.push_back({p + "attn.c_proj.weight", {dim, dim}});
  t.push_back({p + "attn.c_proj.bias", {dim}});
  t.push_back({p + "ln_2.weight", {dim}, TensorInit::kOnes});
  t.push_back({p + "ln_2.bias", {dim}, TensorInit::kZeros});
  t.push_back({p + "mlp.c_fc.weight", {dim, ffn}});
  t.push_back({p + "mlp.c_fc.bias", {ffn}});
  t.push_back({p + "mlp.c_proj.weight", {ffn, dim}});
  t.push_back({p + "mlp.c_proj.bias", {dim}});
}

void WriteTextFileAtomic(const fs::path& path, const std::string& text) {
  WriteFileAtomically(path, [&](std::FILE* f, const std::string& where) { WriteBytes(f, where, text.data(), text.size()); });
}

}  // namespace

std::string_view TorchDTypeName(DType t) {
  switch (t) {
    case DType::kF16:
      return "float16";
    case DType::kBF16:
      return "bfloat16";
    default:
      return "float32";
  }
}

std::vector<HfTensorSpec> HfTensorLayout(const ModelConfig& c) {
  std::vector<HfTensorSpec> t;
  const int64_t dim = c.dim, vocab = c.vocab_size;
  if (c.arch != Arch::kGpt2) {
    t.push_back({"model.embed_tokens.weight", {vocab, dim}});
    for (int i = 0; i < c.n_layers; ++i) AddDecoderLayer(c, i, t);
    t.push_back({"model.norm.weight", {dim}, NeutralNorm(c)});
  } else {
    t.push_back({"transformer.wte.weight", {vocab, dim}});
    t.push_back({"transformer.wpe.weight", {c.max_seq_len, dim}});
    for (int i = 0; i < c.n_layers; ++i) AddGpt2Layer(c, i, t);
    t.push_back({"transformer.ln_f.weight", {dim}, TensorInit::kOnes});
    t.push_back({"transformer.ln_f.bias", {dim}, TensorInit::kZeros});
  }
  if (!c.tied_embeddings) t.push_back({"lm_head.weight", {vocab, dim}});
  return t;
}

void FillRandomNormal(uint64_t seed, std::string_view tensor_name, float stddev, std::span<float> out) {
  NormalStream normal(seed, tensor_name, stddev);
  for (float& v : out) v = normal.Next();
}

void WriteRandomModel(const ModelConfig& c, const fs::path& dir, const RandomModelOptions& o) {
  if (o.dtype == DType::kQ8_0)
    throw Error("--dtype", "q8_0 cannot be written as safetensors", "use f32, f16 or bf16");
  ValidateConfig(c, "random model config");
  std::vector<SafetensorsWriteSpec> specs;
  for (HfTensorSpec& t : HfTensorLayout(c)) {
    SafetensorsWriteSpec s{t.name, o.dtype, t.shape, nullptr};
    s.fill = [spec = std::move(t), o](std::span<uint8_t> out) { FillTensor(spec, o, out); };
    specs.push_back(std::move(s));
  }
  const std::map<std::string, std::string> metadata = {
      {"format", "pt"}, {"generator", "kvlab init"}, {"seed", std::to_string(o.seed)}};
  // Weights first, config last: a directory that has config.json has its weights.
  WriteSafetensors(dir / "model.safetensors", specs, metadata);
  WriteTextFileAtomic(dir / "config.json", HfConfigJson(c, TorchDTypeName(o.dtype)));
}

namespace {

void CheckTarget(const fs::path& dir, bool force) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return;
  if (!fs::is_directory(dir, ec)) throw Error(dir.string(), "exists and is not a directory");
  if (!fs::is_empty(dir, ec) && !force) {
    throw Error(dir.string(), "directory is not empty", "pass --force to overwrite the model files in it");
  }
}

void Rename(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::rename(from, to, ec);
  if (ec) throw Error(to.string(), "cannot move " + from.string() + " into place: " + ec.message());
}

// Moves the staged model into `dir`: the whole directory in one rename when possible, else file by file
// (into an existing non-empty directory, with --force).
void MoveIntoPlace(const fs::path& staging, const fs::path& dir) {
  std::error_code ec;
  if (fs::exists(dir, ec) && fs::is_empty(dir, ec)) fs::remove(dir, ec);
  if (!fs::exists(dir, ec)) {
    Rename(staging, dir);
    return;
  }
  Rename(staging / "model.safetensors", dir / "model.safetensors");
  Rename(staging / "config.json", dir / "config.json");
  fs::remove(staging, ec);
}

}  // namespace

void InitRandomModelDir(const ModelConfig& c, const fs::path& dir_in, const RandomModelOptions& o,
                        bool force) {
  // "out/" and "out" name the same directory; the staging sibling needs the last real component.
  const fs::path dir = dir_in.filename().empty() ? dir_in.parent_path() : dir_in;
  CheckTarget(dir, force);
  const fs::path parent = dir.parent_path().empty() ? fs::path(".") : dir.parent_path();
  std::error_code ec;
  fs::create_directories(parent, ec);
  if (ec) throw Error(parent.string(), "cannot create directory: " + ec.message());
  std::string staging_name = ".";
  staging_name += dir.filename().string();
  staging_name += ".kvlab-init-";
  staging_name += std::to_string(::getpid());
  const fs::path staging = parent / staging_name;
  fs::remove_all(staging, ec);
  if (!fs::create_directory(staging, ec))
    throw Error(staging.string(), "cannot create directory: " + ec.message());
  try {
    WriteRandomModel(c, staging, o);
    MoveIntoPlace(staging, dir);
  } catch (...) {
    fs::remove_all(staging, ec);
    throw;
  }
}

}  // namespace kvlab
