// The read bandwidth of `kvlab bench`'s probe (ReadBandwidthProbe, eval/membw.h) over buffers of several
// sizes, 2 threads: where a buffer stops fitting the last-level cache, the rate falls to the memory's.
// A decode step's bound is measured over the step's own bytes (weights + cache), so a model whose bytes
// sit near that size (q8 llama-110m: ~126 MB) is held to a partly cache-fed rate; `best_GB/s` shows how
// far above the 1 GiB figure (`kvlab bench --membw`) such sizes read.
#include <benchmark/benchmark.h>

#include <algorithm>

#include "kvlab/eval/membw.h"
#include "kvlab/ops/threads.h"

namespace {

void BM_ReadBandwidth(benchmark::State& state) {
  const size_t bytes = static_cast<size_t>(state.range(0)) << 20;
  const int threads = static_cast<int>(state.range(1));
  kvlab::SetNumThreads(threads);
  const kvlab::ReadBandwidthProbe probe(threads, bytes);
  double best = 0;
  for (auto _ : state) best = std::max(best, probe.Measure(1).gb_per_s);
  state.counters["best_GB/s"] = best;
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(bytes));
}
// MiB, threads.
BENCHMARK(BM_ReadBandwidth)->ArgsProduct({{16, 32, 64, 96, 128, 192, 256, 512, 1024}, {2}})->UseRealTime();

}  // namespace
