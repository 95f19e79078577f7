// TaskRng: the one random stream of a task sample. Everything a prompt draws (keys, values, the essay's
// start, depths, shuffles) comes from a SplitMix64 seeded by the sample's seed, through range reductions
// written here, so a seed gives the same prompt on every platform and standard library
// (std::uniform_int_distribution and std::shuffle are implementation-defined).
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "kvlab/sketch/hashing.h"

namespace kvlab {

class TaskRng {
 public:
  explicit TaskRng(uint64_t seed) : gen_(seed) {}

  uint64_t Next() { return gen_.Next(); }

  // Uniform in [0, n), n >= 1, without modulo bias: Lemire's multiply-high with rejection ("Fast random
  // integer generation in an interval", 2019).
  uint64_t Below(uint64_t n) {
    unsigned __int128 m = static_cast<unsigned __int128>(gen_.Next()) * n;
    uint64_t low = static_cast<uint64_t>(m);
    if (low < n) {
      const uint64_t threshold = (0 - n) % n;  // 2^64 mod n
      while (low < threshold) {
        m = static_cast<unsigned __int128>(gen_.Next()) * n;
        low = static_cast<uint64_t>(m);
      }
    }
    return static_cast<uint64_t>(m >> 64);
  }

  // Uniform in [0, 1): the top 53 bits.
  double Fraction() { return static_cast<double>(gen_.Next() >> 11) * 0x1.0p-53; }

  // Fisher-Yates, drawing j uniform in [0, i].
  template <typename T>
  void Shuffle(std::vector<T>& v) {
    for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[Below(i)]);
  }

 private:
  SplitMix64 gen_;
};

}  // namespace kvlab
