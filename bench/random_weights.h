// Random weight matrices for the micro-benchmarks: normal values (σ 0.05) encoded as the benchmark's dtype,
// in huge-page memory as a model's weights are.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "kvlab/tensor/matrix_view.h"
#include "kvlab/util/huge_pages.h"

namespace kvlab::bench {

// A rows × cols matrix of dtype written at `w` (m.Bytes() of memory that must outlive the view); values
// from `rng`.
inline MatrixView RandomWeightsAt(DType dtype, int64_t rows, int64_t cols, uint8_t* w, std::mt19937& rng) {
  MatrixView m{dtype, rows, cols, nullptr};
  std::normal_distribution<float> u(0, 0.05f);
  std::vector<float> row(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    for (float& v : row) v = u(rng);
    ConvertFromF32(dtype, row.data(), static_cast<size_t>(cols), w + r * m.RowBytes());
  }
  m.data = w;
  return m;
}

// The same in an `arena` of its own (which must outlive the view).
inline MatrixView RandomWeights(DType dtype, int64_t rows, int64_t cols, HugePageBuffer& arena,
                                std::mt19937& rng) {
  arena = HugePageBuffer(MatrixView{dtype, rows, cols, nullptr}.Bytes());
  return RandomWeightsAt(dtype, rows, cols, static_cast<uint8_t*>(arena.data()), rng);
}

// n values of the same distribution (the activations).
inline std::vector<float> RandomActivations(size_t n, std::mt19937& rng) {
  std::normal_distribution<float> u(0, 0.05f);
  std::vector<float> x(n);
  for (float& v : x) v = u(rng);
  return x;
}

}  // namespace kvlab::bench
