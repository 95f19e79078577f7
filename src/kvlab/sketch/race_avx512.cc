// AVX-512 RaceSketch::Project: up to 64 planes per pass in four vectors of 16, each plane's sum taken
// coordinate by coordinate as the scalar loop takes it (a product rounded, then added), so the signs, the
// buckets and the sketch are the same bits either way.
#include <immintrin.h>

#include <algorithm>

#include "kvlab/sketch/race.h"

namespace kvlab {

namespace {

constexpr size_t kLanes = 16;

// One pass over `kVectors` vectors of planes (the last one masked); the accumulators stay in registers.
template <size_t kVectors>
void ProjectPass(const float* columns, size_t planes, __mmask16 last_mask, const float* v, size_t dim,
                 float* dots) {
  // Explicitly rounded forms: builtins GCC never fuses into a multiply-add, which would round once.
  constexpr int kNearest = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
  __m512 acc[kVectors];
  for (size_t z = 0; z < kVectors; ++z) acc[z] = _mm512_setzero_ps();
  for (size_t i = 0; i < dim; ++i) {
    const __m512 x = _mm512_set1_ps(v[i]);
    const float* column = columns + i * planes;
    for (size_t z = 0; z < kVectors; ++z) {  // unrolled: kVectors is a constant
      const __mmask16 m = z + 1 == kVectors ? last_mask : __mmask16{0xffff};
      const __m512 product = _mm512_mul_round_ps(_mm512_maskz_loadu_ps(m, column + z * kLanes), x, kNearest);
      acc[z] = _mm512_add_round_ps(acc[z], product, kNearest);
    }
  }
  for (size_t z = 0; z < kVectors; ++z) {
    _mm512_mask_storeu_ps(dots + z * kLanes, z + 1 == kVectors ? last_mask : __mmask16{0xffff}, acc[z]);
  }
}

}  // namespace

void ProjectAvx512(const float* columns, size_t planes, size_t count, const float* v, size_t dim,
                   float* dots) {
  constexpr size_t kMaxVectors = 4;
  for (size_t p0 = 0; p0 < count; p0 += kMaxVectors * kLanes) {
    const size_t n = std::min(kMaxVectors * kLanes, count - p0);
    const size_t vectors = (n + kLanes - 1) / kLanes, tail = n - (vectors - 1) * kLanes;
    const __mmask16 last = tail == kLanes ? __mmask16{0xffff} : static_cast<__mmask16>((1u << tail) - 1u);
    const float* c = columns + p0;
    switch (vectors) {
      case 1:
        ProjectPass<1>(c, planes, last, v, dim, dots + p0);
        break;
      case 2:
        ProjectPass<2>(c, planes, last, v, dim, dots + p0);
        break;
      case 3:
        ProjectPass<3>(c, planes, last, v, dim, dots + p0);
        break;
      default:
        ProjectPass<4>(c, planes, last, v, dim, dots + p0);
        break;
    }
  }
}

}  // namespace kvlab
