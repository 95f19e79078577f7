// Runs a test body at every SIMD level this CPU has (scalar, AVX2, AVX-512: the kernels are chosen at run
// time, so each level is a separate code path to test), restoring the detected level afterwards even when
// an assertion ends the body early.
#pragma once

#include "kvlab/ops/cpu_features.h"

namespace kvlab {

template <typename Body>
void ForEachSimdLevel(Body&& body) {
  const SimdLevel detected = DetectSimdLevel();
  struct Restore {
    SimdLevel level;
    ~Restore() { SetSimdLevel(level); }
  } restore{detected};
  for (SimdLevel level : {SimdLevel::kScalar, SimdLevel::kAvx2, SimdLevel::kAvx512}) {
    if (static_cast<int>(level) > static_cast<int>(detected)) continue;
    SetSimdLevel(level);
    body(level);
  }
}

}  // namespace kvlab
