// Measures the machine's memory read bandwidth the same way every time, as the bound decode is held to.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "kvlab/ops/stream_read.h"
#include "kvlab/util/huge_pages.h"

namespace kvlab {

struct MemBandwidth {
  double gb_per_s = 0;       // best of the passes, 1 GB = 1e9 bytes
  double mean_gb_per_s = 0;  // the passes' mean rate: a busy moment of the shared host pulls it down
  // The best of each read alone (ops/stream_read.h); gb_per_s is the larger.
  double plain_gb_per_s = 0;
  double prefetched_gb_per_s = 0;
  int threads = 0;
  size_t bytes = 0;  // bytes read per repetition
  uint64_t checksum = 0;  // the wrapping sum of the 64-bit words one repetition read (each whole block once)
};

// Streams memory with the fastest plain reads (kernels::StreamSum, ops/stream_read.h: plain loads, once
// without and once with prefetch requests ahead, back to back in each pass, the pass counting as the
// faster; the threads share each read out as the decode's mat-vecs share their rows, WorkShares) and
// reports the best rate of `repetitions` passes: the machine's peak read bandwidth, which no kernel of
// kvlab's can beat, so a decode step's fraction of the bound is at most 1 unless the measurement is
// wrong. Allocated
// (or handed its memory) and first touched once, read again on every Measure: `kvlab bench` measures
// before and after each decode repetition without paying (or perturbing the decode with) a fresh
// allocation and its page faults each time.
class ReadBandwidthProbe {
 public:
  // Its own `bytes`-sized buffer on huge pages (much larger than the caches).
  ReadBandwidthProbe(int threads, size_t bytes);
  // Memory that already exists and stays alive and unmoved while the probe is used: a model's weights and
  // a cache's row stores, so that the bound of a decode step is measured on the very pages the step reads.
  // Why: on these virtual machines two buffers of the same size can read up to 20% apart, either way round,
  // changing within minutes (where the host placed them), so a separate buffer adds that much error to
  // the bound. Only whole 64-byte blocks of each region are read (any dtype: the bytes are summed as
  // integers, whose speed does not depend on their values).
  ReadBandwidthProbe(int threads, std::vector<std::span<const std::byte>> regions);

  MemBandwidth Measure(int repetitions) const;
  size_t bytes() const { return bytes_; }

 private:
  // One read of all the regions with `stream_sum` on the probe's threads: its rate in GB/s, and the
  // wrapping sum of the words read in `checksum`.
  double Pass(kernels::StreamSumFn stream_sum, uint64_t& checksum) const;

  int threads_;
  HugePageBuffer buffer_;                            // own memory (first constructor), else empty
  std::vector<std::span<const std::byte>> regions_;  // what Measure reads
  size_t bytes_ = 0;                                 // the whole 64-byte blocks of regions_
};

// One probe on its own buffer, measured once.
MemBandwidth MeasureReadBandwidth(int threads, size_t bytes = size_t{1} << 30, int repetitions = 10);

}  // namespace kvlab
