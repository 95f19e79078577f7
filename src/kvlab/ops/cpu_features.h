// Which SIMD path the kernels take on this CPU, decided once at start-up (or forced for tests).
#pragma once

namespace kvlab {

enum class SimdLevel { kScalar, kAvx2, kAvx512 };

// The best level this CPU supports, unless KVLAB_SIMD=scalar|avx2|avx512 asks for a lower one.
SimdLevel DetectSimdLevel();
// The level kernels use now (DetectSimdLevel() unless overridden by SetSimdLevel, for tests).
SimdLevel ActiveSimdLevel();
void SetSimdLevel(SimdLevel level);
const char* SimdLevelName(SimdLevel level);

}  // namespace kvlab
