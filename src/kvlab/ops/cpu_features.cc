#include "kvlab/ops/cpu_features.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace kvlab {

bool CpuHasAvx512Vnni() {
  static const bool vnni = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512vnni") != 0;
  }();
  return vnni;
}

bool CpuHasAvx512Bf16() {
  static const bool bf16 = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512bf16") != 0;
  }();
  return bf16;
}

SimdLevel DetectSimdLevel() {
  __builtin_cpu_init();
  SimdLevel best = SimdLevel::kScalar;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c")) {
    best = SimdLevel::kAvx2;  // F16C: the f16 weight kernels convert with vcvtph2ps
  }
  if (best == SimdLevel::kAvx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl")) {
    best = SimdLevel::kAvx512;
  }
  // Allow forcing a lower level (never a higher one than the CPU has).
  if (const char* env = std::getenv("KVLAB_SIMD")) {
    SimdLevel want = best;
    if (std::strcmp(env, "scalar") == 0) want = SimdLevel::kScalar;
    if (std::strcmp(env, "avx2") == 0) want = SimdLevel::kAvx2;
    if (static_cast<int>(want) < static_cast<int>(best)) best = want;
  }
  return best;
}

namespace {
std::atomic<int> g_level{-1};
}

SimdLevel ActiveSimdLevel() {
  int v = g_level.load(std::memory_order_relaxed);
  if (v < 0) {
    v = static_cast<int>(DetectSimdLevel());
    g_level.store(v, std::memory_order_relaxed);
  }
  return static_cast<SimdLevel>(v);
}

void SetSimdLevel(SimdLevel level) { g_level.store(static_cast<int>(level)); }

const char* SimdLevelName(SimdLevel level) {
  switch (level) {
    case SimdLevel::kScalar: return "scalar";
    case SimdLevel::kAvx2: return "avx2";
    case SimdLevel::kAvx512: return "avx512";
  }
  return "?";
}

}  // namespace kvlab
