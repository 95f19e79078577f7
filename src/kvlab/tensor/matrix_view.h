// Non-owning views of stored weight tensors: what the model's weights are made of (model/weights.h) and what
// the matrix kernels read (ops/matmul.h).
#pragma once

#include <cstddef>
#include <cstdint>

#include "kvlab/tensor/dtype.h"

namespace kvlab {

// A row-major [rows][cols] matrix; dtype says how to read `data` (f32, bf16, f16 or q8; GGUF's q8_0 is
// repacked to q8 at load). Rows are RowBytes() apart.
struct MatrixView {
  DType dtype = DType::kF32;
  int64_t rows = 0;
  int64_t cols = 0;
  const void* data = nullptr;
  bool empty() const { return data == nullptr; }
  size_t RowBytes() const { return DTypeBytes(dtype, static_cast<size_t>(cols)); }
  size_t Bytes() const { return static_cast<size_t>(rows) * RowBytes(); }
};

// An f32 vector (norm weights, biases). Empty (data == nullptr) when the model has none.
struct VectorView {
  const float* data = nullptr;
  int64_t size = 0;
  bool empty() const { return data == nullptr; }
};

}  // namespace kvlab
