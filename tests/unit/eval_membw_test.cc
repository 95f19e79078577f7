// The read-bandwidth probe (eval/membw.h) over its own buffer and over memory it is handed, and the cache's
// row stores that `kvlab bench` hands it (kv/cache.h).
#include <gtest/gtest.h>

#include <cstddef>
#include <span>
#include <vector>

#include "kvlab/eval/membw.h"
#include "kvlab/kv/cache.h"
#include "kvlab/ops/threads.h"

namespace kvlab {
namespace {

constexpr size_t kRow = 16384;  // the probe reads whole rows of 4096 floats

TEST(ReadBandwidthProbe, OwnBufferReadsItsWholeRows) {
  ReadBandwidthProbe probe(1, 3 * kRow + 100);
  EXPECT_EQ(probe.bytes(), 3 * kRow);
  const MemBandwidth bw = probe.Measure(2);
  EXPECT_GT(bw.gb_per_s, 0.0);
  EXPECT_EQ(bw.bytes, 3 * kRow);
  EXPECT_EQ(bw.threads, 1);
}

TEST(ReadBandwidthProbe, HandedRegionsAreReadUpToTheirLastWholeRowAndShortOnesSkipped) {
  // Heap vectors with ragged ends: under ASan a read past the last whole row of either would be reported.
  std::vector<float> a((5 * kRow + 4000) / sizeof(float), 1.0f);  // 5 whole rows of a 4000-byte-longer region
  std::vector<float> b((kRow - 64) / sizeof(float), 2.0f);        // shorter than a row: skipped
  std::vector<float> c((40 * kRow + 12) / sizeof(float), 3.0f);   // 40 rows: more than one 16-row group
  const int threads = NumThreads();
  SetNumThreads(2);
  ReadBandwidthProbe probe(
      2, {std::as_bytes(std::span(a)), std::as_bytes(std::span(b)), std::as_bytes(std::span(c))});
  EXPECT_EQ(probe.bytes(), 45 * kRow);
  const MemBandwidth bw = probe.Measure(3);
  EXPECT_GT(bw.gb_per_s, 0.0);
  EXPECT_EQ(bw.bytes, 45 * kRow);
  EXPECT_EQ(bw.threads, 2);
  SetNumThreads(threads);
}

TEST(ReadBandwidthProbe, NothingToReadMeasuresNothing) {
  std::vector<float> tiny(16, 1.0f);
  ReadBandwidthProbe probe(1, {std::as_bytes(std::span(tiny))});
  EXPECT_EQ(probe.bytes(), 0u);
  const MemBandwidth bw = probe.Measure(3);
  EXPECT_EQ(bw.gb_per_s, 0.0);
  EXPECT_EQ(bw.bytes, 0u);
}

KvCacheShape ThreeLayerShape() {
  KvCacheShape c;
  c.n_layers = 3;
  c.n_heads = 4;
  c.n_kv_heads = 2;
  c.head_dim = 16;
  return c;
}

TEST(KvCacheRowStores, PlainCacheHasItsKeysAndValues) {
  KvCache cache(ThreeLayerShape(), 10);
  const std::vector<std::span<const std::byte>> stores = cache.RowStores();
  ASSERT_EQ(stores.size(), 2u);
  const size_t f32_bytes = 3 * 2 * 10 * 16 * sizeof(float);  // [layers][kv_heads][capacity][head_dim]
  EXPECT_EQ(stores[0].size(), f32_bytes);
  EXPECT_EQ(stores[1].size(), f32_bytes);
  EXPECT_NE(stores[0].data(), stores[1].data());
  EXPECT_LE(stores[0].size() + stores[1].size(), cache.AllocatedBytes());
}

TEST(KvCacheRowStores, QuantizedCacheAddsItsCodes) {
  KvCache cache(ThreeLayerShape(), 10, KvCodec{CodecType::kInt4, CodecType::kInt8, 8, 2});
  const std::vector<std::span<const std::byte>> stores = cache.RowStores();
  ASSERT_EQ(stores.size(), 4u);  // residual f32 keys and values, key codes, value codes
  size_t total = 0;
  for (const auto& s : stores) {
    EXPECT_GT(s.size(), 0u);
    total += s.size();
  }
  EXPECT_LE(total, cache.AllocatedBytes());
}

}  // namespace
}  // namespace kvlab
