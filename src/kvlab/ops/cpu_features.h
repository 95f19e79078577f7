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
// Whether the CPU has AVX-512 VNNI (dpbusd), which the AVX-512 q8 kernels need on top of the AVX-512 level.
bool CpuHasAvx512Vnni();
// Whether the CPU has AVX-512 BF16 (dpbf16ps), which the bf16 prefill kernel needs.
bool CpuHasAvx512Bf16();

}  // namespace kvlab
