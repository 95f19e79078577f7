// The read-bandwidth probe (eval/membw.h) over its own buffer and over memory it is handed, and the cache's
// row stores that `kvlab bench` hands it (kv/cache.h).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "kvlab/eval/membw.h"
#include "kvlab/kv/cache.h"
#include "kvlab/ops/threads.h"

namespace kvlab {
namespace {

constexpr size_t kBlock = 64;  // the probe reads whole 64-byte blocks

TEST(ReadBandwidthProbe, OwnBufferReadsItsWholeBlocks) {
  ReadBandwidthProbe probe(1, 3 * kBlock + 40);
  EXPECT_EQ(probe.bytes(), 3 * kBlock);
  const MemBandwidth bw = probe.Measure(2);
  EXPECT_GT(bw.gb_per_s, 0.0);
  // The mean of two passes is positive and at most the better one.
  EXPECT_GT(bw.mean_gb_per_s, 0.0);
  EXPECT_LE(bw.mean_gb_per_s, bw.gb_per_s);
  // Both reads ran; the bound is the faster.
  EXPECT_GT(bw.plain_gb_per_s, 0.0);
  EXPECT_GT(bw.prefetched_gb_per_s, 0.0);
  EXPECT_EQ(bw.gb_per_s, std::max(bw.plain_gb_per_s, bw.prefetched_gb_per_s));
  EXPECT_EQ(bw.bytes, 3 * kBlock);
  EXPECT_EQ(bw.threads, 1);
}

TEST(ReadBandwidthProbe, HandedRegionsAreReadUpToTheirLastWholeBlockAndShortOnesSkipped) {
  // Heap vectors with ragged ends and odd starts, split between two threads mid-region: under ASan a read
  // past the last whole block of any of them would be reported.
  std::vector<std::byte> a(5 * kBlock + 40);     // 5 whole blocks
  std::vector<std::byte> b(kBlock - 8);          // shorter than a block: skipped
  std::vector<std::byte> c(4001 * kBlock + 12);  // many blocks, an odd count (the threads share it in pieces)
  for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<std::byte>(i * 7 + 1);
  for (size_t i = 0; i < b.size(); ++i) b[i] = std::byte{0xff};
  for (size_t i = 0; i < c.size(); ++i) c[i] = static_cast<std::byte>(i * 13 + 5);
  // Every whole block read exactly once: the wrapping sum of the 64-bit words the probe should see.
  auto word_sum = [](std::span<const std::byte> region) {
    uint64_t sum = 0;
    for (size_t i = 0; i + kBlock <= region.size(); i += kBlock) {
      for (size_t w = 0; w < kBlock; w += sizeof(uint64_t)) {
        uint64_t word;
        std::memcpy(&word, region.data() + i + w, sizeof word);
        sum += word;
      }
    }
    return sum;
  };
  const uint64_t expected = word_sum(a) + word_sum(std::span<const std::byte>(c).subspan(3));
  const int threads = NumThreads();
  SetNumThreads(2);
  ReadBandwidthProbe probe(2, {std::span<const std::byte>(a).subspan(0), std::span<const std::byte>(b),
                               std::span<const std::byte>(c).subspan(3)});
  EXPECT_EQ(probe.bytes(), (5 + 4001) * kBlock);
  const MemBandwidth bw = probe.Measure(3);
  EXPECT_GT(bw.gb_per_s, 0.0);
  EXPECT_EQ(bw.bytes, (5 + 4001) * kBlock);
  EXPECT_EQ(bw.threads, 2);
  EXPECT_EQ(bw.checksum, expected);
  SetNumThreads(threads);
}

TEST(ReadBandwidthProbe, NothingToReadMeasuresNothing) {
  std::vector<float> tiny(15, 1.0f);  // 60 bytes: not one whole block
  ReadBandwidthProbe probe(1, {std::as_bytes(std::span(tiny))});
  EXPECT_EQ(probe.bytes(), 0u);
  const MemBandwidth bw = probe.Measure(3);
  EXPECT_EQ(bw.gb_per_s, 0.0);
  EXPECT_EQ(bw.mean_gb_per_s, 0.0);
  EXPECT_EQ(bw.plain_gb_per_s, 0.0);
  EXPECT_EQ(bw.prefetched_gb_per_s, 0.0);
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
