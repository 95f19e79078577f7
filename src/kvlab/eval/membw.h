// Measures the machine's memory read bandwidth the same way every time, as the bound decode is held to.
#pragma once

#include <cstddef>

namespace kvlab {

struct MemBandwidth {
  double gb_per_s = 0;  // best of the repetitions, 1 GB = 1e9 bytes
  int threads = 0;
  size_t bytes = 0;     // buffer size read per repetition
};

// Streams a `bytes`-sized f32 buffer (much larger than the caches) with `threads` threads, summing it
// so the reads cannot be optimized away; returns the best of `repetitions` passes.
MemBandwidth MeasureReadBandwidth(int threads, size_t bytes = size_t{1} << 30, int repetitions = 10);

}  // namespace kvlab
