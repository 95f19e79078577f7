// Measures the machine's memory read bandwidth the same way every time, as the bound decode is held to.
#pragma once

#include <cstddef>

#include "kvlab/util/huge_pages.h"

namespace kvlab {

struct MemBandwidth {
  double gb_per_s = 0;  // best of the repetitions, 1 GB = 1e9 bytes
  int threads = 0;
  size_t bytes = 0;     // buffer size read per repetition
};

// A `bytes`-sized f32 buffer (much larger than the caches) on huge pages, allocated and first touched once,
// read again on every Measure: `kvlab bench` measures before and after each decode repetition without
// paying (or perturbing the decode with) a fresh allocation and its page faults each time.
class ReadBandwidthProbe {
 public:
  ReadBandwidthProbe(int threads, size_t bytes);
  // Streams the buffer with the probe's threads, summing it so the reads cannot be optimized away;
  // returns the best of `repetitions` passes.
  MemBandwidth Measure(int repetitions) const;

 private:
  int threads_;
  size_t bytes_;
  HugePageBuffer buffer_;
};

// One probe, measured once.
MemBandwidth MeasureReadBandwidth(int threads, size_t bytes = size_t{1} << 30, int repetitions = 10);

}  // namespace kvlab
