// AVX-512 RaceSketch::Project: up to 64 planes per pass in four vectors of 16, for up to four vectors at
// once, each plane's sum taken coordinate by coordinate as the scalar loop takes it (a product rounded,
// then added), so the signs, the buckets and the sketch are the same bits either way.
#include <immintrin.h>

#include <algorithm>

#include "kvlab/sketch/race.h"

namespace kvlab {

namespace {

constexpr size_t kLanes = 16;

// One pass over `kPlaneVectors` vectors of planes (the last one masked) for `kInputs` input vectors; the
// kPlaneVectors * kInputs accumulators stay in registers. Each coordinate's plane values are loaded once
// for all inputs. One input alone is bound by the multiply-add latency (each accumulator waits for its
// previous sum); four give the vector units independent chains enough to run at their throughput (a
// multiply and an add per plane vector: on this CPU one of each issues per cycle, as fast as one fused
// multiply-add, which would round once and could move a bucket).
// The loops carry `#pragma GCC unroll`: without it GCC 12 kept a copy of the accumulators on the stack
// and stored all of them on every coordinate, which made four inputs no faster than one.
template <size_t kPlaneVectors, size_t kInputs>
void ProjectPass(const float* columns, size_t planes, __mmask16 last_mask, const float* const* vs, size_t dim,
                 size_t dots_stride, float* dots) {
  // Explicitly rounded forms: builtins GCC never fuses into a multiply-add.
  constexpr int kNearest = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
  __m512 acc[kInputs][kPlaneVectors];
#pragma GCC unroll 4
  for (size_t j = 0; j < kInputs; ++j) {
#pragma GCC unroll 4
    for (size_t z = 0; z < kPlaneVectors; ++z) acc[j][z] = _mm512_setzero_ps();
  }
  for (size_t i = 0; i < dim; ++i) {
    const float* column = columns + i * planes;
    __m512 plane[kPlaneVectors];
#pragma GCC unroll 4
    for (size_t z = 0; z < kPlaneVectors; ++z) {
      const __mmask16 m = z + 1 == kPlaneVectors ? last_mask : __mmask16{0xffff};
      plane[z] = _mm512_maskz_loadu_ps(m, column + z * kLanes);
    }
#pragma GCC unroll 4
    for (size_t j = 0; j < kInputs; ++j) {
      const __m512 x = _mm512_set1_ps(vs[j][i]);
#pragma GCC unroll 4
      for (size_t z = 0; z < kPlaneVectors; ++z) {
        acc[j][z] = _mm512_add_round_ps(acc[j][z], _mm512_mul_round_ps(plane[z], x, kNearest), kNearest);
      }
    }
  }
#pragma GCC unroll 4
  for (size_t j = 0; j < kInputs; ++j) {
#pragma GCC unroll 4
    for (size_t z = 0; z < kPlaneVectors; ++z) {
      _mm512_mask_storeu_ps(dots + j * dots_stride + z * kLanes,
                            z + 1 == kPlaneVectors ? last_mask : __mmask16{0xffff}, acc[j][z]);
    }
  }
}

template <size_t kPlaneVectors>
void ProjectPassFor(size_t inputs, const float* columns, size_t planes, __mmask16 last_mask,
                    const float* const* vs, size_t dim, size_t dots_stride, float* dots) {
  switch (inputs) {
    case 1: ProjectPass<kPlaneVectors, 1>(columns, planes, last_mask, vs, dim, dots_stride, dots); break;
    case 2: ProjectPass<kPlaneVectors, 2>(columns, planes, last_mask, vs, dim, dots_stride, dots); break;
    case 3: ProjectPass<kPlaneVectors, 3>(columns, planes, last_mask, vs, dim, dots_stride, dots); break;
    default: ProjectPass<kPlaneVectors, 4>(columns, planes, last_mask, vs, dim, dots_stride, dots); break;
  }
}

}  // namespace

void ProjectAvx512(const float* columns, size_t planes, size_t count, const float* const* vs, size_t inputs,
                   size_t dim, float* dots) {
  constexpr size_t kMaxPlaneVectors = 4;
  for (size_t j0 = 0; j0 < inputs; j0 += kProjectMaxInputs) {
    const size_t nj = std::min(kProjectMaxInputs, inputs - j0);
    for (size_t p0 = 0; p0 < count; p0 += kMaxPlaneVectors * kLanes) {
      const size_t n = std::min(kMaxPlaneVectors * kLanes, count - p0);
      const size_t vectors = (n + kLanes - 1) / kLanes, tail = n - (vectors - 1) * kLanes;
      const __mmask16 last = tail == kLanes ? __mmask16{0xffff} : static_cast<__mmask16>((1u << tail) - 1u);
      const float* c = columns + p0;
      float* out = dots + j0 * count + p0;
      switch (vectors) {
        case 1: ProjectPassFor<1>(nj, c, planes, last, vs + j0, dim, count, out); break;
        case 2: ProjectPassFor<2>(nj, c, planes, last, vs + j0, dim, count, out); break;
        case 3: ProjectPassFor<3>(nj, c, planes, last, vs + j0, dim, count, out); break;
        default: ProjectPassFor<4>(nj, c, planes, last, vs + j0, dim, count, out); break;
      }
    }
  }
}

}  // namespace kvlab
