// Micro-benchmark of the f32 matrix-vector product at llama-110m shapes, reported as bytes/s of weights.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "kvlab/ops/matmul.h"
#include "kvlab/ops/threads.h"
#include "kvlab/util/huge_pages.h"

namespace {

void BM_MatVecF32(benchmark::State& state) {
  const int64_t rows = state.range(0), cols = state.range(1);
  kvlab::SetNumThreads(static_cast<int>(state.range(2)));
  // Weights in huge-page memory, as Model keeps them.
  kvlab::HugePageBuffer arena(rows * cols * sizeof(float));
  float* w = static_cast<float*>(arena.data());
  std::vector<float> x(cols), y(rows);
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-1, 1);
  for (int64_t i = 0; i < rows * cols; ++i) w[i] = u(rng);
  for (float& v : x) v = u(rng);
  kvlab::MatrixView m{kvlab::DType::kF32, rows, cols, w};
  for (auto _ : state) {
    kvlab::MatVec(m, x.data(), y.data());
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(state.iterations() * rows * cols * 4);
}
// (rows, cols, threads): ffn up/gate, ffn down, and the 32000-row classifier of llama-110m.
// 65536x768 and 24576x2048 (192 MiB) stream from DRAM like a decode step does; the others are real shapes.
BENCHMARK(BM_MatVecF32)->Args({65536, 768, 1})->Args({65536, 768, 2})->Args({24576, 2048, 1})->Args({24576, 2048, 2})
    ->Args({2048, 768, 2})->Args({768, 2048, 2})->Args({32000, 768, 2})
    ->UseRealTime();

}  // namespace
