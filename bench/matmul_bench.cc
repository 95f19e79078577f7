// Micro-benchmark of the prefill product Y[n][rows] = X[n][cols] · W^T for every weight dtype, reported in
// FLOP/s (2 · n · rows · cols per product). Shapes are llama-110m's up/gate and down projections; the
// weights (3–6 MB in f32) stream from L3/DRAM once per 64 tokens, so this is the kernel's compute rate.
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "kvlab/ops/matmul.h"
#include "kvlab/ops/threads.h"
#include "random_weights.h"

namespace {

void BM_MatMulDType(benchmark::State& state) {
  const auto dtype = static_cast<kvlab::DType>(state.range(0));
  const int64_t rows = state.range(1), cols = state.range(2), n = state.range(3);
  kvlab::SetNumThreads(static_cast<int>(state.range(4)));
  kvlab::HugePageBuffer arena;
  std::mt19937 rng(1);
  const kvlab::MatrixView m = kvlab::bench::RandomWeights(dtype, rows, cols, arena, rng);
  const std::vector<float> x = kvlab::bench::RandomActivations(static_cast<size_t>(n * cols), rng);
  std::vector<float> y(static_cast<size_t>(n * rows));
  for (auto _ : state) {
    kvlab::MatMul(m, x.data(), static_cast<size_t>(n), y.data());
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["FLOP/s"] = benchmark::Counter(2.0 * static_cast<double>(n * rows * cols),
                                                benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(std::string(kvlab::DTypeName(dtype)));
}

void Shapes(benchmark::internal::Benchmark* b) {
  for (kvlab::DType t : {kvlab::DType::kF32, kvlab::DType::kBF16, kvlab::DType::kF16, kvlab::DType::kQ8}) {
    const int64_t d = static_cast<int64_t>(t);
    for (int64_t threads : {1, 2}) {
      b->Args({d, 2048, 768, 128, threads});  // up / gate
      b->Args({d, 768, 2048, 128, threads});  // down
    }
    b->Args({d, 2048, 768, 512, 2});
  }
}
BENCHMARK(BM_MatMulDType)->Apply(Shapes)->UseRealTime();

}  // namespace
