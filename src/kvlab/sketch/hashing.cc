#include "kvlab/sketch/hashing.h"

#include <cmath>
#include <numbers>

namespace kvlab {

double SplitMix64::NextGaussian() {
  const double u1 = NextUnit();
  const double u2 = NextUnit();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

PairwiseHash::PairwiseHash(SplitMix64& rng) {
  // Drawn in a fixed order so that a seed names one function on every platform.
  a0_ = rng.Next();
  a1_ = rng.Next();
  b_ = rng.Next();
}

}  // namespace kvlab
