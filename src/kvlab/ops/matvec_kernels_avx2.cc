// AVX2 (+FMA, F16C) row kernels: 4 rows per pass share each 8-float load of x; tails go scalar.
#include <immintrin.h>

#include <cstring>

#include "kvlab/ops/dot_kernels.h"
#include "kvlab/ops/matvec_kernels.h"
#include "kvlab/tensor/q8_rows.h"

namespace kvlab::kernels {

namespace {
inline float HorizontalSum(__m256 v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(t, _mm_shuffle_ps(t, t, 1)));
}

// 8 stored halves at p -> 8 floats.
struct Bf16Load {
  static __m256 Load(const uint8_t* p) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
  static float One(uint16_t h) { return Bf16ToF32(h); }
};
struct F16Load {
  static __m256 Load(const uint8_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
  static float One(uint16_t h) { return _cvtsh_ss(h); }
};

template <typename L, int R>
void HalfRows(const uint8_t* w, size_t row_bytes, const float* x, size_t n, float* out) {
  __m256 acc[R];
  for (int j = 0; j < R; ++j) acc[j] = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 xv = _mm256_loadu_ps(x + i);
    for (int j = 0; j < R; ++j) acc[j] = _mm256_fmadd_ps(L::Load(w + j * row_bytes + 2 * i), xv, acc[j]);
  }
  for (int j = 0; j < R; ++j) {
    float s = HorizontalSum(acc[j]);
    for (size_t k = i; k < n; ++k) {
      uint16_t h;
      std::memcpy(&h, w + j * row_bytes + 2 * k, 2);
      s += L::One(h) * x[k];
    }
    out[j] = s;
  }
}

template <typename L>
void HalfRowsAll(const uint8_t* w, size_t row_bytes, size_t rows, const float* x, size_t n, float* out) {
  size_t r = 0;
  for (; r + 4 <= rows; r += 4) HalfRows<L, 4>(w + r * row_bytes, row_bytes, x, n, out + r);
  for (; r < rows; ++r) HalfRows<L, 1>(w + r * row_bytes, row_bytes, x, n, out + r);
}

// Per block of 32: weights back to signed (xor 0x80), then maddubs(|w|, sign(a, w)) — the unsigned x signed
// byte product AVX2 has — and madd with ones to int32; scaled by weight scale * activation scale.
template <int R>
void Q8Rows(const uint8_t* w, size_t row_bytes, const Q8Activation& a, size_t n, float* out) {
  const size_t nb = Q8Blocks(n);
  const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc[R];
  for (int j = 0; j < R; ++j) acc[j] = _mm256_setzero_ps();
  for (size_t b = 0; b < nb; ++b) {
    const __m256i av = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.q.data() + b * kQ8Block));
    for (int j = 0; j < R; ++j) {
      const uint8_t* row = w + j * row_bytes;
      const __m256i wv =
          _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + b * kQ8Block)), flip);
      const __m256i p16 = _mm256_maddubs_epi16(_mm256_abs_epi8(wv), _mm256_sign_epi8(av, wv));
      const __m256 p = _mm256_cvtepi32_ps(_mm256_madd_epi16(p16, ones));
      uint16_t d16;
      std::memcpy(&d16, row + nb * kQ8Block + 2 * b, 2);
      acc[j] = _mm256_fmadd_ps(p, _mm256_set1_ps(_cvtsh_ss(d16) * a.d[b]), acc[j]);
    }
  }
  for (int j = 0; j < R; ++j) out[j] = HorizontalSum(acc[j]);
}
}  // namespace

void F16ToF32Avx2(const uint16_t* src, size_t n, float* dst) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i))));
  }
  for (; i < n; ++i) {  // src may be unaligned (a row inside a packed buffer)
    uint16_t h;
    std::memcpy(&h, reinterpret_cast<const uint8_t*>(src) + 2 * i, 2);
    dst[i] = _cvtsh_ss(h);
  }
}

void F32RowsAvx2(const uint8_t* w, size_t row_bytes, size_t rows, const void* x, size_t n, float* out) {
  DotRowsAvx2(reinterpret_cast<const float*>(w), row_bytes / sizeof(float), rows, static_cast<const float*>(x), n,
              out);
}

void Bf16RowsAvx2(const uint8_t* w, size_t row_bytes, size_t rows, const void* x, size_t n, float* out) {
  HalfRowsAll<Bf16Load>(w, row_bytes, rows, static_cast<const float*>(x), n, out);
}

void F16RowsAvx2(const uint8_t* w, size_t row_bytes, size_t rows, const void* x, size_t n, float* out) {
  HalfRowsAll<F16Load>(w, row_bytes, rows, static_cast<const float*>(x), n, out);
}

void Q8RowsAvx2(const uint8_t* w, size_t row_bytes, size_t rows, const void* x, size_t n, float* out) {
  const auto& a = *static_cast<const Q8Activation*>(x);
  size_t r = 0;
  for (; r + 4 <= rows; r += 4) Q8Rows<4>(w + r * row_bytes, row_bytes, a, n, out + r);
  for (; r < rows; ++r) Q8Rows<1>(w + r * row_bytes, row_bytes, a, n, out + r);
}

}  // namespace kvlab::kernels
