// WeightBuilder: turns stored tensors (from any format) into the views of ModelWeights, checking each one's
// shape against the config and converting what the kernels cannot read directly. Shared by the loaders
// (Hugging Face safetensors, GGUF, llama2.c) so that every format gets the same checks and messages.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "kvlab/model/weights.h"
#include "kvlab/tensor/dtype.h"

namespace kvlab {

// A tensor as a file stores it, in row-major order ([rows][cols] for a matrix).
struct StoredTensor {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  const void* data = nullptr;
};

// Rows [first, first + rows) of a matrix, as a view: the fused projections (Phi-3's qkv and gate_up) are
// row blocks of one stored matrix.
inline MatrixView RowBlock(const MatrixView& m, int64_t first, int64_t rows) {
  MatrixView b = m;
  b.rows = rows;
  b.data = static_cast<const uint8_t*>(m.data) + static_cast<size_t>(first) * m.RowBytes();
  return b;
}

class WeightBuilder {
 public:
  // Finds a tensor by name in the file (nullopt when absent).
  using Lookup = std::function<std::optional<StoredTensor>(const std::string& name)>;

  // `file` names the checkpoint in errors. `ggml_order` reports shapes the way GGUF lists them
  // (fastest-varying dimension first), so a message matches what gguf tools print for that file.
  WeightBuilder(LoadedModel& model, std::string file, Lookup lookup, bool ggml_order = false);

  bool Has(const std::string& name) const { return lookup_(name).has_value(); }
  // Throws "<file>: missing tensor <name>".
  StoredTensor Require(const std::string& name) const;

  // With `keep` (any --weights but f32), Matrix keeps bf16/f16 tensors as they are and repacks q8_0, q4_0
  // and q5_0 exactly to q8.
  void KeepStoredDType(bool keep) { keep_stored_dtype_ = keep; }

  // Row-major [rows][cols] weight. Viewed in place when it is f32 (or, with KeepStoredDType, bf16/f16) and
  // aligned; q8_0 / q4_0 / q5_0 are repacked exactly to q8 with KeepStoredDType; anything else (the other
  // GGUF block types included, dequantized exactly) becomes an owned f32 buffer. Throws naming the tensor
  // when its rows are not a whole number of the stored type's blocks.
  MatrixView Matrix(const std::string& name, int64_t rows, int64_t cols);
  // A Conv1D weight stored [in][out] (GPT-2), returned transposed as an owned f32 [out][in] buffer.
  const float* TransposedF32(const std::string& name, int64_t in, int64_t out);
  // A 1-D tensor of n elements as f32 (norm weights and biases are always f32 for the kernels).
  VectorView Vector(const std::string& name, int64_t n);
  const float* VectorF32(const std::string& name, int64_t n) { return Vector(name, n).data; }

  // Throws "<file>: tensor <name> has shape [a, b], expected [c, d]".
  void CheckShape(const StoredTensor& t, const std::vector<int64_t>& expected) const;

 private:
  const float* AsF32(const StoredTensor& t, size_t n);

  LoadedModel& model_;
  std::string file_;
  Lookup lookup_;
  bool ggml_order_;
  bool keep_stored_dtype_ = false;
};

}  // namespace kvlab
