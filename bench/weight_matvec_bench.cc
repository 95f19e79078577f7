// Micro-benchmark of the matrix-vector product for every weight dtype, reported as bytes/s of weights read.
// Large shapes stream from DRAM like a decode step (compare with `kvlab bench --membw`); the small one stays
// in L2 and shows how fast the kernel itself is, i.e. how much headroom it has over the memory bound.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "kvlab/ops/matmul.h"
#include "kvlab/ops/matvec_kernels.h"
#include "kvlab/ops/threads.h"
#include "random_weights.h"

namespace {

void BM_MatVecDType(benchmark::State& state) {
  const auto dtype = static_cast<kvlab::DType>(state.range(0));
  const int64_t rows = state.range(1), cols = state.range(2);
  kvlab::SetNumThreads(static_cast<int>(state.range(3)));
  kvlab::HugePageBuffer arena;
  std::mt19937 rng(1);
  const kvlab::MatrixView m = kvlab::bench::RandomWeights(dtype, rows, cols, arena, rng);
  const std::vector<float> x = kvlab::bench::RandomActivations(static_cast<size_t>(cols), rng);
  std::vector<float> y(static_cast<size_t>(rows));
  for (auto _ : state) {
    kvlab::MatVec(m, x.data(), y.data());
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(m.Bytes()));
  state.SetLabel(std::string(kvlab::DTypeName(dtype)));
}

void Shapes(benchmark::internal::Benchmark* b) {
  for (kvlab::DType t : {kvlab::DType::kF32, kvlab::DType::kBF16, kvlab::DType::kF16, kvlab::DType::kQ8}) {
    const int64_t d = static_cast<int64_t>(t);
    b->Args({d, 512, 768, 1});      // in L2: kernel speed
    b->Args({d, 65536, 768, 1});    // DRAM, one thread
    b->Args({d, 65536, 768, 2});    // DRAM, both threads
    b->Args({d, 32000, 768, 2});    // llama-110m classifier
  }
}
BENCHMARK(BM_MatVecDType)->Apply(Shapes)->UseRealTime();

// The q8 kernels' per-token preparation: x quantized per block of 32, on the calling thread before the
// threads multiply (llama-110m's 768- and 2048-value inputs).
void BM_QuantizeActivation(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  std::mt19937 rng(1);
  const std::vector<float> x = kvlab::bench::RandomActivations(n, rng);
  kvlab::kernels::Q8Activation a;
  for (auto _ : state) {
    kvlab::kernels::QuantizeActivation(x.data(), n, a);
    benchmark::DoNotOptimize(a.q.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(n));
}
BENCHMARK(BM_QuantizeActivation)->Arg(768)->Arg(2048);

}  // namespace
