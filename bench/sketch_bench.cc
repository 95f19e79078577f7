// Micro-benchmarks of the sketch updates and estimates a `sketch` policy makes per decode step: one
// attention row of a 257-slot cache (positions with gaps, as after evictions) added to a width-512,
// depth-4 sketch, and the score of every slot read back, in turn over the 144 sketches (12 layers x 12
// heads, each its own seed) of a llama-110m-shaped model, as a decode step visits them. Reported per slot.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

#include "kvlab/sketch/count_min.h"
#include "kvlab/sketch/count_sketch.h"
#include "kvlab/sketch/race.h"

namespace {

constexpr size_t kSlots = 257, kWidth = 512, kDepth = 4, kHeadDim = 64, kSketches = 144;

struct AttentionRowData {
  std::vector<uint64_t> positions;  // [kSlots] increasing, with gaps
  std::vector<float> probs;         // [kSlots] summing to 1
};

AttentionRowData MakeRow() {
  AttentionRowData row;
  std::mt19937 rng(1);
  std::uniform_int_distribution<int> gap(1, 4);
  std::exponential_distribution<float> mass(1.0f);
  uint64_t pos = 0;
  float sum = 0.0f;
  for (size_t i = 0; i < kSlots; ++i) {
    row.positions.push_back(pos += gap(rng));
    row.probs.push_back(mass(rng));
    sum += row.probs.back();
  }
  for (float& p : row.probs) p /= sum;
  return row;
}

template <typename Sketch>
std::vector<Sketch> MakeSketches() {
  std::vector<Sketch> sketches;
  for (size_t i = 0; i < kSketches; ++i) sketches.emplace_back(kWidth, kDepth, /*seed=*/i + 1);
  return sketches;
}

template <typename Sketch>
void BM_AddRow(benchmark::State& state) {
  std::vector<Sketch> sketches = MakeSketches<Sketch>();
  const AttentionRowData row = MakeRow();
  size_t next = 0;
  for (auto _ : state) {
    sketches[next].AddBatch(row.positions, row.probs);
    next = next + 1 == kSketches ? 0 : next + 1;
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * kSlots);
}
BENCHMARK(BM_AddRow<kvlab::CountMinSketch>);
BENCHMARK(BM_AddRow<kvlab::CountSketch>);

template <typename Sketch>
void BM_EstimateSlots(benchmark::State& state) {
  std::vector<Sketch> sketches = MakeSketches<Sketch>();
  const AttentionRowData row = MakeRow();
  for (Sketch& s : sketches) s.AddBatch(row.positions, row.probs);
  std::vector<float> out(kSlots);
  size_t next = 0;
  for (auto _ : state) {
    sketches[next].EstimateBatch(row.positions, out);
    next = next + 1 == kSketches ? 0 : next + 1;
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * kSlots);
}
BENCHMARK(BM_EstimateSlots<kvlab::CountMinSketch>);
BENCHMARK(BM_EstimateSlots<kvlab::CountSketch>);

// RACE hashes vectors: one query per attention row (Add), one key per slot when scores are read.
void BM_RaceHashVector(benchmark::State& state) {
  kvlab::RaceSketch sketch(kWidth, kDepth, kHeadDim, /*bits=*/9, 1);
  std::vector<float> v(kHeadDim);
  std::mt19937 rng(2);
  std::normal_distribution<float> normal;
  for (float& x : v) x = normal(rng);
  std::vector<uint32_t> buckets(kDepth);
  for (auto _ : state) {
    sketch.Buckets(v, buckets);
    benchmark::DoNotOptimize(buckets.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RaceHashVector);

// A head's keys at eviction, hashed 16 at a time as SketchScores::Estimate does (items: keys).
void BM_RaceHashKeys(benchmark::State& state) {
  constexpr size_t kKeys = 16;
  kvlab::RaceSketch sketch(kWidth, kDepth, kHeadDim, /*bits=*/9, 1);
  std::vector<float> keys(kKeys * kHeadDim);
  std::mt19937 rng(3);
  std::normal_distribution<float> normal;
  for (float& x : keys) x = normal(rng);
  std::vector<const float*> rows(kKeys);
  for (size_t j = 0; j < kKeys; ++j) rows[j] = keys.data() + j * kHeadDim;
  std::vector<uint32_t> buckets(kKeys * kDepth);
  for (auto _ : state) {
    sketch.BucketsOfMany(rows, buckets);
    benchmark::DoNotOptimize(buckets.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(kKeys));
}
BENCHMARK(BM_RaceHashKeys);

}  // namespace
