// ModelWeights: the tensors of a model in kvlab's canonical layout, as non-owning views.
//
// Canonical layout (whatever the file format):
//   - matrices are row-major [out][in], so y = W x is one dot product per row;
//   - Q/K rows are in the order the config's RopeStyle expects;
//   - GPT-2's Conv1D [in][out] weights are transposed at load and its fused c_attn split into q/k/v.
// Views point into a memory-mapped file where the layout already matches, or into buffers owned by
// LoadedModel where the loader had to convert (transpose, dtype conversion, dequantization).
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "kvlab/io/model_format.h"
#include "kvlab/model/config.h"
#include "kvlab/tensor/dtype.h"
#include "kvlab/tensor/matrix_view.h"
#include "kvlab/util/huge_pages.h"
#include "kvlab/util/mapped_file.h"

namespace kvlab {

struct LayerWeights {
  VectorView attn_norm;    // [dim]  RMSNorm / LayerNorm weight before attention
  VectorView attn_norm_b;  // [dim]  LayerNorm bias (GPT-2)
  MatrixView wq;           // [n_heads*head_dim][dim]
  MatrixView wk;           // [n_kv_heads*head_dim][dim]
  MatrixView wv;           // [n_kv_heads*head_dim][dim]
  MatrixView wo;           // [dim][n_heads*head_dim]
  VectorView bq, bk, bv, bo;  // attention biases (GPT-2; q/k/v for Qwen2)
  VectorView q_norm, k_norm;  // [head_dim] per-head RMSNorm of q and k before RoPE (Qwen3, Gemma 3)
  VectorView attn_post_norm;  // [dim] norm of the attention output before the residual add (Gemma)
  VectorView ffn_norm;     // [dim]
  VectorView ffn_norm_b;   // [dim]
  MatrixView w_gate;       // [ffn][dim]  gated MLP only (SwiGLU / GeGLU gate)
  MatrixView w_up;         // [ffn][dim]  Llama up_proj / GPT-2 c_fc
  MatrixView w_down;       // [dim][ffn]  Llama down_proj / GPT-2 mlp.c_proj
  VectorView b_up;         // [ffn] GPT-2
  VectorView b_down;       // [dim] GPT-2
  VectorView ffn_post_norm;  // [dim] norm of the MLP output before the residual add (Gemma)

  // Every vector and every matrix of the layer (empty ones included), in decode order: for code that
  // treats them alike (the arena, conversion, parameter counts).
  std::array<VectorView*, 14> Vectors() {
    return {&attn_norm, &attn_norm_b, &bq, &bk, &bv, &q_norm, &k_norm, &bo, &attn_post_norm,
            &ffn_norm, &ffn_norm_b, &b_up, &b_down, &ffn_post_norm};
  }
  std::array<MatrixView*, 7> Matrices() { return {&wq, &wk, &wv, &wo, &w_gate, &w_up, &w_down}; }
  std::array<const VectorView*, 14> Vectors() const {
    const std::array<VectorView*, 14> v = const_cast<LayerWeights*>(this)->Vectors();
    return {v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12], v[13]};
  }
  std::array<const MatrixView*, 7> Matrices() const {
    const std::array<MatrixView*, 7> m = const_cast<LayerWeights*>(this)->Matrices();
    return {m[0], m[1], m[2], m[3], m[4], m[5], m[6]};
  }
};

struct ModelWeights {
  MatrixView tok_emb;      // [vocab][dim]
  MatrixView pos_emb;      // [max_seq_len][dim]  GPT-2 learned positions
  std::vector<LayerWeights> layers;
  VectorView final_norm;   // [dim]
  VectorView final_norm_b; // [dim] GPT-2
  MatrixView lm_head;      // [vocab][dim]  == tok_emb when tied
  VectorView lm_head_b;    // [vocab] (present in some GPT-2 checkpoints)
};

// How the weight matrices are kept in memory (`--weights`). Norms, biases and GPT-2 positions stay f32.
enum class WeightFormat : uint8_t {
  kAuto,  // as the file stores them: f32, bf16 and f16 used in place, GGUF q8_0 / q4_0 / q5_0 repacked
          // exactly to q8; everything else (the other GGUF quant types included) exactly to f32
  kF32,   // everything converted to f32 (LoadModel's default: what the tests and golden outputs assume)
  kBF16,  // converted once at load (round to nearest even)
  kF16,
  kQ8,    // 8-bit, one f16 scale per block of 32 (tensor/q8_rows.h)
};
// "auto", "f32", "bf16", "f16", "q8"; Parse throws kvlab::Error naming `what` (e.g. "--weights").
const char* WeightFormatName(WeightFormat f);
WeightFormat ParseWeightFormat(const std::string& s, const std::string& what);

struct LoadOptions {
  WeightFormat weights = WeightFormat::kF32;
};

// A loaded model: config + weight views + whatever keeps those views alive.
struct LoadedModel {
  ModelConfig config;
  ModelWeights weights;
  ModelFormat format = ModelFormat::kSafetensors;
  std::filesystem::path path;  // what the user pointed at (file or directory)
  std::vector<std::shared_ptr<MappedFile>> files;       // mmaps the views point into
  std::vector<std::unique_ptr<float[]>> owned_buffers;  // converted tensors the views point into
  HugePageBuffer arena;  // after MoveWeightsToArena: every weight, contiguous, in huge pages

  // Allocates an owned f32 buffer of n floats that lives as long as the model.
  float* Allocate(size_t n) {
    owned_buffers.emplace_back(new float[n]);
    return owned_buffers.back().get();
  }
  // The same for `bytes` bytes of any dtype (4-byte aligned).
  uint8_t* AllocateBytes(size_t bytes) { return reinterpret_cast<uint8_t*>(Allocate((bytes + 3) / 4)); }
  // Converts every weight matrix (the embedding included, so a tied head stays tied) that is not already
  // `target` to it, through f32. Rows of q8 are quantized independently. Done by LoadModel.
  void ConvertMatrices(DType target);
  int64_t ParameterCount() const;  // counts tied matrices once
  int64_t WeightBytes() const;     // bytes a decode step reads from weights (as stored)
  // Copies every weight into one huge-page arena (in the order a decode step reads them), repoints the
  // views, and releases the file maps and conversion buffers. Done by Model before running.
  void MoveWeightsToArena();
};

// Loads a model from a path:
//   directory with config.json + *.safetensors (or model.safetensors.index.json)  -> Hugging Face
//   *.gguf                                                                          -> GGUF v1/v2/v3
//   any other file                                                                  -> llama2.c checkpoint
// `options.weights` picks the in-memory weight format (default f32).
// Throws kvlab::Error with a one-line message naming the file and the problem.
LoadedModel LoadModel(const std::filesystem::path& path, const LoadOptions& options = {});

}  // namespace kvlab
