// Micro-benchmark of the matrix-vector product for every weight dtype, reported as bytes/s of weights read.
// Large shapes stream from DRAM like a decode step (compare with `kvlab bench --membw`); the small one stays
// in L2 and shows how fast the kernel itself is, i.e. how much headroom it has over the memory bound.
#include <benchmark/benchmark.h>

#include <chrono>
#include <random>
#include <vector>

#include "kvlab/model/presets.h"
#include "kvlab/ops/matmul.h"
#include "kvlab/ops/matvec_kernels.h"
#include "kvlab/ops/region_timer.h"
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

// A decode step's mat-vecs without the rest of the step: llama-110m's matrices (12 layers of Q/K/V, output,
// gate/up and down, then the classifier) laid out back to back in one huge-page arena in the order a step
// reads them, multiplied in the step's 49 parallel regions with nothing between them; and, alternately in
// the same iterations, the same bytes read as one matrix of 768 columns in one region. Paired in time, so
// that the shared host's drift hits both alike, their rates (`step_regions_GB/s`, `one_region_GB/s`) and
// `ratio` show what cutting the weight stream into a step's regions costs by itself. Of the chain's time,
// `region_time_share` is inside the regions (the rest: MatVecMany's set-up, q8's activation quantization)
// and `wait_share` the caller waiting at their ends (ops/region_timer.h). Arguments: dtype, threads.
void BM_MatVecChain(benchmark::State& state) {
  const auto dtype = static_cast<kvlab::DType>(state.range(0));
  kvlab::SetNumThreads(static_cast<int>(state.range(1)));
  const kvlab::ModelConfig& c = kvlab::FindModelPreset("llama-110m").config;
  const int64_t kDim = c.dim, kFfn = c.ffn_dim, kVocab = c.vocab_size, kLayers = c.n_layers;
  struct Shape {
    int64_t rows, cols;
  };
  std::vector<Shape> shapes;  // in the order a step reads them: wq, wk, wv, wo, w_gate, w_up, w_down
  for (int64_t l = 0; l < kLayers; ++l) {
    const int64_t q = static_cast<int64_t>(c.q_dim()), kv = static_cast<int64_t>(c.kv_dim());
    for (Shape s : {Shape{q, kDim}, Shape{kv, kDim}, Shape{kv, kDim}, Shape{kDim, q}, Shape{kFfn, kDim},
                    Shape{kFfn, kDim}, Shape{kDim, kFfn}}) {
      shapes.push_back(s);
    }
  }
  shapes.push_back({kVocab, kDim});
  size_t total = 0;
  for (Shape s : shapes) total += kvlab::MatrixView{dtype, s.rows, s.cols, nullptr}.Bytes();
  kvlab::HugePageBuffer arena(total);
  std::mt19937 rng(1);
  std::vector<kvlab::MatrixView> m;
  auto* at = static_cast<uint8_t*>(arena.data());
  for (Shape s : shapes) {
    m.push_back(kvlab::bench::RandomWeightsAt(dtype, s.rows, s.cols, at, rng));
    at += m.back().Bytes();
  }
  // The whole arena as one matrix of kDim columns (its bytes as that dtype's rows: the values do not
  // matter to the speed), all but a last partial row.
  const size_t row_bytes = kvlab::DTypeBytes(dtype, kDim);
  const kvlab::MatrixView whole{dtype, static_cast<int64_t>(total / row_bytes), kDim, arena.data()};
  const std::vector<float> x_dim = kvlab::bench::RandomActivations(kDim, rng);
  const std::vector<float> x_ffn = kvlab::bench::RandomActivations(kFfn, rng);
  std::vector<float> q(c.q_dim()), k(c.kv_dim()), v(c.kv_dim()), o(kDim), gate(kFfn), up(kFfn), down(kDim),
      logits(kVocab);
  std::vector<float> whole_out(static_cast<size_t>(whole.rows));
  using Clock = std::chrono::steady_clock;
  double regions_s = 0, whole_s = 0;
  kvlab::RegionTimes times;
  for (auto _ : state) {
    kvlab::StartRegionTimer(&times);
    const auto t0 = Clock::now();
    for (int64_t l = 0; l < kLayers; ++l) {
      const kvlab::MatrixView* w = &m[static_cast<size_t>(l) * 7];
      kvlab::MatVecMany({{&w[0], x_dim.data(), q.data()},
                         {&w[1], x_dim.data(), k.data()},
                         {&w[2], x_dim.data(), v.data()}});
      kvlab::MatVec(w[3], q.data(), o.data());
      kvlab::MatVecMany({{&w[4], x_dim.data(), gate.data()}, {&w[5], x_dim.data(), up.data()}});
      kvlab::MatVec(w[6], x_ffn.data(), down.data());
    }
    kvlab::MatVec(m.back(), x_dim.data(), logits.data());
    benchmark::DoNotOptimize(logits.data());
    const auto t1 = Clock::now();
    kvlab::StopRegionTimer();
    kvlab::MatVec(whole, x_dim.data(), whole_out.data());
    benchmark::DoNotOptimize(whole_out.data());
    const auto t2 = Clock::now();
    regions_s += std::chrono::duration<double>(t1 - t0).count();
    whole_s += std::chrono::duration<double>(t2 - t1).count();
  }
  const double n = static_cast<double>(state.iterations());
  state.counters["step_regions_GB/s"] = n * static_cast<double>(total) / regions_s / 1e9;
  state.counters["one_region_GB/s"] = n * static_cast<double>(whole.Bytes()) / whole_s / 1e9;
  state.counters["wait_share"] = static_cast<double>(times.TotalWaitNs()) / 1e9 / regions_s;
  state.counters["region_time_share"] = static_cast<double>(times.TotalNs()) / 1e9 / regions_s;
  state.counters["ratio"] =
      (static_cast<double>(total) / regions_s) / (static_cast<double>(whole.Bytes()) / whole_s);
  state.SetLabel(std::string(kvlab::DTypeName(dtype)));
}
BENCHMARK(BM_MatVecChain)
    ->ArgsProduct({{static_cast<int64_t>(kvlab::DType::kF32), static_cast<int64_t>(kvlab::DType::kQ8)},
                   {1, 2}})
    ->UseRealTime();

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
