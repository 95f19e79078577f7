// What a decode step's parallel regions cost its weight stream. llama-110m's matrices (12 layers of Q/K/V,
// output, gate/up and down, then the classifier) lie back to back in one huge-page arena, in the order a
// step reads them, and every iteration reads them four ways, one after another, so that the shared host's
// drift hits all four alike:
//   step_regions  multiplied as a step multiplies them, in its 49 parallel regions (MatVecMany, one per
//                 group of matrices with the same input, each naming the next), with nothing between the
//                 regions; and once more without naming the next (so waiting threads request nothing),
//                 the two in alternating order;
//   barriers      the same 49 groups in one region that the threads stay in, meeting at a spin barrier
//                 after each group: a step's order kept at the least cost a thread team can give it
//                 (each group's input is the output of the one before, in a real step);
//   one_region    the same bytes as one matrix of 768 columns in one region: no order to keep;
//   probe         the same bytes read once by `kvlab bench`'s bound probe (eval/membw.h).
// Counters: each way's rate (GB/s); `ratio` = step_regions / one_region and `barriers_ratio` = barriers /
// one_region (what the regions, and what the order alone, cost the stream); `group_start_us` and
// `group_stream_GB/s`, the barriers' layer groups fitted as a fixed time each plus their bytes at a rate;
// `ahead_gain` = step_regions' time without naming the next region / with it; `kernel_of_probe` = one_region
// / probe (the kernel against the plainest read); and for step_regions, `region_time_share` (inside the
// regions; the rest is MatVecMany's set-up and q8's activation quantization) and `wait_share` (the caller
// waiting at the regions' ends, ops/region_timer.h). Arguments: dtype, threads.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <random>
#include <vector>

#include "kvlab/eval/membw.h"
#include "kvlab/model/presets.h"
#include "kvlab/ops/matmul.h"
#include "kvlab/ops/matvec_kernels.h"
#include "kvlab/ops/region_timer.h"
#include "kvlab/ops/thread_team.h"
#include "kvlab/ops/threads.h"
#include "kvlab/ops/work_shares.h"
#include "random_weights.h"

namespace {

using Clock = std::chrono::steady_clock;
double SecondsBetween(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

constexpr size_t kRowBlock = kvlab::kMatVecRowBlock;  // rows handed out as a unit, as MatVecMany does

// Matrices multiplied by one input, as one MatVecMany multiplies them.
struct ChainGroup {
  struct Job {
    const kvlab::MatrixView* w;
    float* y;  // [w.rows]
  };
  std::vector<Job> jobs;
  const float* x;  // [cols]
  size_t cols;
  size_t blocks() const {
    size_t n = 0;
    for (const Job& j : jobs) n += kvlab::MatVecRowBlocks(*j.w);
    return n;
  }
};

// Thread t's share of a group's row blocks (all jobs' blocks end to end), handed out by `shares`.
void MultiplyShare(const ChainGroup& g, const void* x, kvlab::kernels::RowsFn rows_fn, kvlab::WorkShares& shares,
                   size_t t) {
  size_t first, last;
  while (shares.Next(t, first, last)) {
    size_t start = 0;  // the job's first block
    for (const ChainGroup::Job& j : g.jobs) {
      const size_t blocks = kvlab::MatVecRowBlocks(*j.w);
      const size_t lo = std::max(first, start), hi = std::min(last, start + blocks);
      if (lo < hi) {
        const size_t row_bytes = j.w->RowBytes();
        const size_t r0 = (lo - start) * kRowBlock;
        const size_t r1 = std::min(static_cast<size_t>(j.w->rows), (hi - start) * kRowBlock);
        rows_fn(static_cast<const uint8_t*>(j.w->data) + r0 * row_bytes, row_bytes, r1 - r0, x,
                static_cast<size_t>(j.w->cols), j.y + r0);
      }
      start += blocks;
    }
  }
}

// All of a team's threads wait until each has arrived: one shared counter that only grows, each thread
// counting the arrivals it waits for itself, so that nothing needs resetting between rounds.
class SpinBarrier {
 public:
  explicit SpinBarrier(size_t threads) : threads_(static_cast<uint32_t>(threads)) {}
  // `round`: this thread's own count of the barriers it has passed.
  void Wait(uint32_t& round) {
    ++round;
    arrived_.fetch_add(1, std::memory_order_acq_rel);
    while (arrived_.load(std::memory_order_acquire) < round * threads_) {
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    }
  }

 private:
  const uint32_t threads_;
  alignas(64) std::atomic<uint32_t> arrived_{0};
};

// The groups in one region, each thread quantizing a q8 group's input for itself (a step's other threads
// would wait for one thread's quantization anyway), a barrier after each. Adds each group's time, from the
// barrier before it to the one after it as thread 0 sees them, to group_ns[i].
void MultiplyInOneRegion(const std::vector<ChainGroup>& groups, kvlab::DType dtype, size_t threads,
                         std::vector<double>& group_ns) {
  std::vector<std::unique_ptr<kvlab::WorkShares>> shares;
  for (const ChainGroup& g : groups) shares.push_back(std::make_unique<kvlab::WorkShares>(g.blocks(), threads));
  SpinBarrier barrier(threads);
  const kvlab::kernels::RowsFn rows_fn = kvlab::kernels::RowsKernel(dtype);
  kvlab::ParallelRun(threads, [&](size_t t, size_t) {
    thread_local kvlab::kernels::Q8Activation q8_x;
    uint32_t round = 0;
    Clock::time_point group_start = Clock::now();
    for (size_t i = 0; i < groups.size(); ++i) {
      const void* x = groups[i].x;
      if (dtype == kvlab::DType::kQ8) {
        kvlab::kernels::QuantizeActivation(groups[i].x, groups[i].cols, q8_x);
        x = &q8_x;
      }
      MultiplyShare(groups[i], x, rows_fn, *shares[i], t);
      barrier.Wait(round);
      if (t == 0) {
        const Clock::time_point now = Clock::now();
        group_ns[i] += std::chrono::duration<double, std::nano>(now - group_start).count();
        group_start = now;
      }
    }
  });
}

void BM_MatVecChain(benchmark::State& state) {
  const auto dtype = static_cast<kvlab::DType>(state.range(0));
  kvlab::SetNumThreads(static_cast<int>(state.range(1)));
  const size_t threads = static_cast<size_t>(kvlab::NumThreads());
  const kvlab::ModelConfig& c = kvlab::FindModelPreset("llama-110m").config;
  const int64_t kDim = c.dim, kFfn = c.ffn_dim, kVocab = c.vocab_size, kLayers = c.n_layers;
  const int64_t kQ = static_cast<int64_t>(c.q_dim()), kKv = static_cast<int64_t>(c.kv_dim());
  struct Shape {
    int64_t rows, cols;
  };
  std::vector<Shape> shapes;  // in the order a step reads them: wq, wk, wv, wo, w_gate, w_up, w_down
  for (int64_t l = 0; l < kLayers; ++l) {
    for (Shape s : {Shape{kQ, kDim}, Shape{kKv, kDim}, Shape{kKv, kDim}, Shape{kDim, kQ}, Shape{kFfn, kDim},
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
  const kvlab::ReadBandwidthProbe probe(static_cast<int>(threads),
                                        {{static_cast<const std::byte*>(arena.data()), total}});
  const std::vector<float> x_dim = kvlab::bench::RandomActivations(kDim, rng);
  const std::vector<float> x_ffn = kvlab::bench::RandomActivations(kFfn, rng);
  std::vector<float> q(kQ), k(kKv), v(kKv), o(kDim), gate(kFfn), up(kFfn), down(kDim), logits(kVocab);
  std::vector<float> whole_out(static_cast<size_t>(whole.rows));
  std::vector<ChainGroup> groups;  // the chain's 49 groups, as the step_regions loop below multiplies them
  for (int64_t l = 0; l < kLayers; ++l) {
    const kvlab::MatrixView* w = &m[static_cast<size_t>(l) * 7];
    groups.push_back({{{&w[0], q.data()}, {&w[1], k.data()}, {&w[2], v.data()}}, x_dim.data(), x_dim.size()});
    groups.push_back({{{&w[3], o.data()}}, q.data(), q.size()});
    groups.push_back({{{&w[4], gate.data()}, {&w[5], up.data()}}, x_dim.data(), x_dim.size()});
    groups.push_back({{{&w[6], down.data()}}, x_ffn.data(), x_ffn.size()});
  }
  groups.push_back({{{&m.back(), logits.data()}}, x_dim.data(), x_dim.size()});

  double regions_s = 0, barriers_s = 0, whole_s = 0, probe_rates = 0;
  kvlab::RegionTimes times;
  // The step's regions; with `ahead`, each names the next as a decode step does (MatVecMany's `next`).
  auto run_step_regions = [&](bool ahead) {
    auto next = [&](std::initializer_list<const kvlab::MatrixView*> ms) {
      return ahead ? kvlab::NextMatVec(ms) : kvlab::NextMatVec{};
    };
    for (int64_t l = 0; l < kLayers; ++l) {
      const kvlab::MatrixView* w = &m[static_cast<size_t>(l) * 7];
      // The next layer's first three matrices (after the last layer: the classifier, named below instead).
      const kvlab::MatrixView* after = &m[static_cast<size_t>(l + 1) * 7];
      kvlab::MatVecMany(
          {{&w[0], x_dim.data(), q.data()}, {&w[1], x_dim.data(), k.data()}, {&w[2], x_dim.data(), v.data()}},
          next({&w[3]}));
      kvlab::MatVecMany({{&w[3], q.data(), o.data()}}, next({&w[4], &w[5]}));
      kvlab::MatVecMany({{&w[4], x_dim.data(), gate.data()}, {&w[5], x_dim.data(), up.data()}},
                        next({&w[6]}));
      kvlab::MatVecMany({{&w[6], x_ffn.data(), down.data()}},
                        l + 1 < kLayers ? next({&after[0], &after[1], &after[2]}) : next({&m.back()}));
    }
    kvlab::MatVecMany({{&m.back(), x_dim.data(), logits.data()}}, next({&m[0], &m[1], &m[2]}));
    benchmark::DoNotOptimize(logits.data());
  };
  std::vector<double> group_ns(groups.size());  // barriers: each group's time, summed over iterations
  double no_ahead_s = 0;
  bool no_ahead_first = true;  // the two alternate which goes first
  for (auto _ : state) {
    auto without_ahead = [&] {
      const auto start = Clock::now();
      run_step_regions(false);
      no_ahead_s += SecondsBetween(start, Clock::now());
    };
    if (no_ahead_first) without_ahead();
    kvlab::StartRegionTimer(&times);
    const auto t0 = Clock::now();
    run_step_regions(true);
    const auto t1 = Clock::now();
    kvlab::StopRegionTimer();
    if (!no_ahead_first) without_ahead();
    no_ahead_first = !no_ahead_first;
    const auto t_barriers = Clock::now();
    MultiplyInOneRegion(groups, dtype, threads, group_ns);
    benchmark::DoNotOptimize(logits.data());
    const auto t2 = Clock::now();
    kvlab::MatVec(whole, x_dim.data(), whole_out.data());
    benchmark::DoNotOptimize(whole_out.data());
    const auto t3 = Clock::now();
    probe_rates += probe.Measure(1).gb_per_s;
    regions_s += SecondsBetween(t0, t1);
    barriers_s += SecondsBetween(t_barriers, t2);
    whole_s += SecondsBetween(t2, t3);
  }
  const double n = static_cast<double>(state.iterations());
  const double step_regions = n * static_cast<double>(total) / regions_s / 1e9;
  const double barriers = n * static_cast<double>(total) / barriers_s / 1e9;
  const double one_region = n * static_cast<double>(whole.Bytes()) / whole_s / 1e9;
  const double probe_gb_s = probe_rates / n;
  state.counters["step_regions_GB/s"] = step_regions;
  state.counters["barriers_GB/s"] = barriers;
  state.counters["one_region_GB/s"] = one_region;
  state.counters["probe_GB/s"] = probe_gb_s;
  state.counters["ratio"] = step_regions / one_region;
  state.counters["ahead_gain"] = no_ahead_s / regions_s;
  state.counters["barriers_ratio"] = barriers / one_region;
  state.counters["kernel_of_probe"] = one_region / probe_gb_s;
  // The barriers' groups as time = start + bytes / rate, fitted over the layers' 48 groups of four sizes
  // (least squares; the classifier's 30-100 MB would set the rate alone): `start` is what each group costs
  // beyond its bytes (the barrier, q8's quantization, the streams starting afresh at new addresses, the
  // threads finishing apart), and `rate` the groups' stream once under way.
  const size_t layer_groups = groups.size() - 1;
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (size_t i = 0; i < layer_groups; ++i) {
    double bytes = 0;
    for (const ChainGroup::Job& j : groups[i].jobs) bytes += static_cast<double>(j.w->Bytes());
    const double ns = group_ns[i] / n;
    sx += bytes, sy += ns, sxx += bytes * bytes, sxy += bytes * ns;
  }
  const double g = static_cast<double>(layer_groups);
  const double ns_per_byte = (g * sxy - sx * sy) / (g * sxx - sx * sx);
  state.counters["group_start_us"] = (sy - ns_per_byte * sx) / g / 1e3;
  state.counters["group_stream_GB/s"] = 1.0 / ns_per_byte;
  state.counters["wait_share"] = static_cast<double>(times.TotalWaitNs()) / 1e9 / regions_s;
  state.counters["region_time_share"] = static_cast<double>(times.TotalNs()) / 1e9 / regions_s;
  state.SetLabel(std::string(kvlab::DTypeName(dtype)));
}
BENCHMARK(BM_MatVecChain)
    ->ArgsProduct({{static_cast<int64_t>(kvlab::DType::kF32), static_cast<int64_t>(kvlab::DType::kQ8)},
                   {1, 2}})
    ->UseRealTime();

}  // namespace
