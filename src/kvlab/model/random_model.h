// Random-weight checkpoints in Hugging Face layout (what `kvlab init` writes): config.json plus
// model.safetensors with the tensor names and layouts transformers uses for each family (Qwen2's q/k/v
// biases, q_norm/k_norm, Gemma's four norms, Phi-3's fused qkv_proj and gate_up_proj, GPT-2's Conv1D
// [in][out]), so that the files exercise exactly the loader path real checkpoints take.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kvlab/model/config.h"
#include "kvlab/tensor/dtype.h"

namespace kvlab {

struct RandomModelOptions {
  DType dtype = DType::kF32;  // f32, f16 or bf16 (every tensor, norms included, as transformers saves them)
  uint64_t seed = 0;
  float stddev = 0.02f;  // transformers' initializer_range for both Llama and GPT-2
};

// How one tensor is initialised: weights and linear biases ~ N(0, stddev), norm weights 1 (Gemma's stored w
// of its (1 + w) norms: 0), norm biases 0.
enum class TensorInit : uint8_t { kNormal, kOnes, kZeros };

struct HfTensorSpec {
  std::string name;            // e.g. "model.layers.0.self_attn.q_proj.weight"
  std::vector<int64_t> shape;  // as stored (row-major; GPT-2 Conv1D weights are [in][out])
  TensorInit init = TensorInit::kNormal;
};

// The tensors a Hugging Face checkpoint of this config holds (lm_head.weight only when untied).
std::vector<HfTensorSpec> HfTensorLayout(const ModelConfig& c);

// Fills `out` with N(0, stddev) values determined only by (seed, tensor name): independent of the order
// tensors are written in, reproducible across platforms (own generator, not std::normal_distribution), so a
// test can recompute any tensor.
void FillRandomNormal(uint64_t seed, std::string_view tensor_name, float stddev, std::span<float> out);

// Writes config.json and model.safetensors into `dir` (which must exist), each file atomically.
void WriteRandomModel(const ModelConfig& c, const std::filesystem::path& dir, const RandomModelOptions& o);

// `kvlab init`: creates `dir` holding a random model. Refuses an existing non-empty `dir` unless `force`.
// The files are built in a sibling staging directory and moved in with renames, so an interrupted run
// leaves either no model or a complete one. Throws kvlab::Error.
void InitRandomModelDir(const ModelConfig& c, const std::filesystem::path& dir, const RandomModelOptions& o,
                        bool force);

// "float32" / "float16" / "bfloat16" (config.json's torch_dtype).
std::string_view TorchDTypeName(DType t);

}  // namespace kvlab
