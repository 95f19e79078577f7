#include "kvlab/kv/policies/sketch_scores.h"

#include <algorithm>
#include <cmath>

#include "kvlab/sketch/hashing.h"
#include "kvlab/util/error.h"

namespace kvlab::policies {

void SketchScores::Bind(const KvCacheShape& shape) {
  KVLAB_CHECK(options_.depth <= kMaxDepth);
  n_kv_heads_ = shape.n_kv_heads;
  head_dim_ = shape.head_dim;
  const size_t n = shape.n_layers * n_kv_heads_;
  const size_t group = shape.n_heads / shape.n_kv_heads;
  row_decay_ = std::pow(options_.decay, 1.0 / static_cast<double>(group));
  cms_.clear();
  cs_.clear();
  race_.clear();
  for (size_t i = 0; i < n; ++i) {
    const uint64_t seed = SeededHash64(i, options_.seed);
    switch (options_.type) {
      case SketchOptions::Type::kCountMin:
        cms_.emplace_back(options_.width, options_.depth, seed, options_.conservative);
        break;
      case SketchOptions::Type::kCountSketch:
        cs_.emplace_back(options_.width, options_.depth, seed);
        break;
      case SketchOptions::Type::kRace:
        race_.emplace_back(options_.width, options_.depth, head_dim_, options_.bits, seed);
        break;
    }
  }
}

namespace {

// Feeds one attention row to a sketch's AddBatch as (position, probability) pairs, in blocks on the stack:
// Observe runs concurrently for different kv heads, so it has no shared scratch, and allocates nothing.
// Slots after the query carry probability 0, which adds nothing to a counter.
template <typename AddBatchFn>
void AddRow(const AttentionRow& row, AddBatchFn add_batch) {
  constexpr size_t kBlock = 256;
  uint64_t keys[kBlock];
  for (size_t begin = 0; begin < row.probs.size(); begin += kBlock) {
    const size_t n = std::min(kBlock, row.probs.size() - begin);
    for (size_t i = 0; i < n; ++i) keys[i] = static_cast<uint64_t>(row.slots[begin + i].pos);
    add_batch(std::span<const uint64_t>(keys, n), row.probs.subspan(begin, n));
  }
}

}  // namespace

void SketchScores::Observe(const AttentionRow& row) {
  const size_t idx = row.layer * n_kv_heads_ + row.kv_head;
  // Each query of the group arrives once per query head, so decaying by decay^(1/group) per row decays
  // the sums by `decay` per query.
  switch (options_.type) {
    case SketchOptions::Type::kCountMin: {
      CountMinSketch& s = cms_[idx];
      if (row_decay_ != 1.0) s.Decay(row_decay_);
      AddRow(row, [&s](std::span<const uint64_t> k, std::span<const float> w) { s.AddBatch(k, w); });
      break;
    }
    case SketchOptions::Type::kCountSketch: {
      CountSketch& s = cs_[idx];
      if (row_decay_ != 1.0) s.Decay(row_decay_);
      AddRow(row, [&s](std::span<const uint64_t> k, std::span<const float> w) { s.AddBatch(k, w); });
      break;
    }
    case SketchOptions::Type::kRace: {
      RaceSketch& s = race_[idx];
      if (row_decay_ != 1.0) s.Decay(row_decay_);
      s.Add({row.q, head_dim_}, 1.0f);
      break;
    }
  }
}

void SketchScores::Prefetch(size_t layer, size_t kv_head) const {
  const size_t idx = layer * n_kv_heads_ + kv_head;
  switch (options_.type) {
    case SketchOptions::Type::kCountMin: cms_[idx].PrefetchCounters(); break;
    case SketchOptions::Type::kCountSketch: cs_[idx].PrefetchCounters(); break;
    case SketchOptions::Type::kRace: race_[idx].PrefetchCounters(); break;
  }
}

void SketchScores::Estimate(size_t layer, size_t kv_head, const KvCache& cache, std::span<float> out) const {
  const size_t idx = layer * n_kv_heads_ + kv_head;
  std::span<const SlotMeta> meta = cache.Meta(layer, kv_head);
  KVLAB_CHECK(out.size() == meta.size());
  if (options_.type == SketchOptions::Type::kRace) {
    // Keys hashed kRaceBlock at a time (RaceSketch::BucketsOfMany), each decoded into its own scratch row
    // when the cache is quantized (per thread: heads are estimated concurrently).
    const RaceSketch& race = race_[idx];
    const size_t depth = race.depth();
    thread_local std::vector<float> key_scratch;  // [kRaceBlock][head_dim]
    key_scratch.resize(kRaceBlock * head_dim_);
    uint32_t buckets[kRaceBlock * kMaxDepth];  // [kRaceBlock][depth]
    const float* keys[kRaceBlock];
    // The counters are cold (the step's weights have streamed through the caches since this head's
    // Observe): without asking for them first, every slot's estimate waited on misses, 1.6x the time.
    race.PrefetchCounters();
    for (size_t begin = 0; begin < meta.size(); begin += kRaceBlock) {
      const size_t n = std::min(kRaceBlock, meta.size() - begin);
      for (size_t j = 0; j < n; ++j) {
        keys[j] = cache.KeyRow(layer, kv_head, begin + j, key_scratch.data() + j * head_dim_);
      }
      race.BucketsOfMany({keys, n}, {buckets, n * depth});
      for (size_t j = 0; j < n; ++j) out[begin + j] = race.QueryAtBuckets({buckets + j * depth, depth});
    }
    return;
  }
  constexpr size_t kBlock = 256;
  uint64_t keys[kBlock];
  for (size_t begin = 0; begin < meta.size(); begin += kBlock) {
    const size_t n = std::min(kBlock, meta.size() - begin);
    for (size_t i = 0; i < n; ++i) keys[i] = static_cast<uint64_t>(meta[begin + i].pos);
    if (options_.type == SketchOptions::Type::kCountMin) {
      cms_[idx].EstimateBatch({keys, n}, out.subspan(begin, n));
    } else {
      cs_[idx].EstimateBatch({keys, n}, out.subspan(begin, n));
    }
  }
}

size_t SketchScores::Bytes() const {
  size_t b = 0;
  for (const auto& s : cms_) b += s.Bytes();
  for (const auto& s : cs_) b += s.Bytes();
  for (const auto& s : race_) b += s.Bytes();
  return b;
}

}  // namespace kvlab::policies
