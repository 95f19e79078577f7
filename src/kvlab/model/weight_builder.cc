#include "kvlab/model/weight_builder.h"

#include <algorithm>
#include <cstring>

#include "kvlab/tensor/ggml_quants.h"
#include "kvlab/tensor/q8_rows.h"
#include "kvlab/util/error.h"

namespace kvlab {
namespace {

std::string ShapeString(std::vector<int64_t> shape, bool ggml_order) {
  if (ggml_order) std::reverse(shape.begin(), shape.end());
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

bool IsAligned(const void* p, size_t alignment) { return reinterpret_cast<uintptr_t>(p) % alignment == 0; }

// n elements of t as f32 into dst (memcpy for f32 that was merely unaligned).
void CopyToF32(const StoredTensor& t, size_t n, float* dst) {
  if (t.dtype == DType::kF32) {
    std::memcpy(dst, t.data, n * sizeof(float));
  } else {
    ConvertToF32(t.dtype, t.data, n, dst);
  }
}

}  // namespace

WeightBuilder::WeightBuilder(LoadedModel& model, std::string file, Lookup lookup, bool ggml_order)
    : model_(model), file_(std::move(file)), lookup_(std::move(lookup)), ggml_order_(ggml_order) {}

StoredTensor WeightBuilder::Require(const std::string& name) const {
  std::optional<StoredTensor> t = lookup_(name);
  if (!t) throw Error(file_, "missing tensor " + name);
  return *t;
}

void WeightBuilder::CheckShape(const StoredTensor& t, const std::vector<int64_t>& expected) const {
  if (t.shape != expected) {
    throw Error(file_, "tensor " + t.name + " has shape " + ShapeString(t.shape, ggml_order_) +
                           ", expected " + ShapeString(expected, ggml_order_));
  }
  const size_t block = ggml::GeometryOf(t.dtype).elements;  // 0 unless a GGUF block type
  if (block != 0 && !expected.empty() && expected.back() % static_cast<int64_t>(block) != 0) {
    throw Error(file_, "tensor " + t.name + " is " + std::string(DTypeName(t.dtype)) + " but its rows of " +
                           std::to_string(expected.back()) + " are not a whole number of " +
                           std::to_string(block) + "-element blocks");
  }
}

// f32 data that is 4-byte aligned is used where it lies (in the mmap); anything else is converted once.
const float* WeightBuilder::AsF32(const StoredTensor& t, size_t n) {
  if (t.dtype == DType::kF32 && IsAligned(t.data, alignof(float))) return static_cast<const float*>(t.data);
  float* out = model_.Allocate(n);  // [n]
  CopyToF32(t, n, out);
  return out;
}

MatrixView WeightBuilder::Matrix(const std::string& name, int64_t rows, int64_t cols) {
  const StoredTensor t = Require(name);
  CheckShape(t, {rows, cols});
  MatrixView m;
  m.rows = rows;
  m.cols = cols;
  const bool half = t.dtype == DType::kBF16 || t.dtype == DType::kF16;
  if (keep_stored_dtype_ && half && IsAligned(t.data, 2)) {
    m.dtype = t.dtype;
    m.data = t.data;
  } else if (keep_stored_dtype_ && RepacksExactlyToQ8(t.dtype)) {
    m.dtype = DType::kQ8;
    const size_t c = static_cast<size_t>(cols);
    uint8_t* out = model_.AllocateBytes(static_cast<size_t>(rows) * Q8RowBytes(c));  // [rows][q8 row]
    const auto* src = static_cast<const uint8_t*>(t.data);
    for (int64_t r = 0; r < rows; ++r) {
      RepackRowToQ8(t.dtype, src + r * DTypeBytes(t.dtype, c), c, out + r * Q8RowBytes(c));
    }
    m.data = out;
  } else {
    // Everything else becomes f32, exactly: f16/bf16 widen, and every GGUF block type (Q4_1, Q5_1, the K
    // types) dequantizes bit for bit as ggml does. Nothing smaller that kvlab's kernels read holds those
    // values exactly (their offsets and quantized sub-scales do not fit one f16 scale times an int8), so
    // --weights auto keeps them f32; --weights q8 / bf16 / f16 then round from these exact values.
    m.dtype = DType::kF32;
    m.data = AsF32(t, static_cast<size_t>(rows * cols));
  }
  return m;
}

const float* WeightBuilder::TransposedF32(const std::string& name, int64_t in, int64_t out) {
  const StoredTensor t = Require(name);
  CheckShape(t, {in, out});
  const size_t n = static_cast<size_t>(in * out);
  std::vector<float> scratch;  // [in][out], only when the stored tensor is not usable f32
  const float* src = static_cast<const float*>(t.data);
  if (t.dtype != DType::kF32 || !IsAligned(t.data, alignof(float))) {
    scratch.resize(n);
    CopyToF32(t, n, scratch.data());
    src = scratch.data();
  }
  float* dst = model_.Allocate(n);  // [out][in]
  for (int64_t i = 0; i < in; ++i) {
    for (int64_t o = 0; o < out; ++o) dst[o * in + i] = src[i * out + o];
  }
  return dst;
}

VectorView WeightBuilder::Vector(const std::string& name, int64_t n) {
  const StoredTensor t = Require(name);
  CheckShape(t, {n});
  return VectorView{AsF32(t, static_cast<size_t>(n)), n};
}

}  // namespace kvlab
