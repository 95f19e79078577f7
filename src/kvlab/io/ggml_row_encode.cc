#include "kvlab/io/ggml_row_encode.h"

#include <cmath>
#include <cstring>

#include "kvlab/tensor/dtype.h"
#include "kvlab/util/error.h"

namespace kvlab {
namespace {

void Store16(uint8_t* out, size_t i, uint16_t v) { std::memcpy(out + 2 * i, &v, 2); }

// One Q8_0 block: f16 scale d, then 32 int8 quants. gguf-py divides by d (not multiplies by 1/d, as ggml's
// C reference does), and np.round's half-away-from-zero is std::round.
void EncodeQ8_0Block(const float* x, uint8_t* out) {
  float amax = 0.0f;
  for (size_t i = 0; i < kQ8_0BlockSize; ++i) amax = std::fmax(amax, std::fabs(x[i]));
  const float d = amax / 127.0f;
  const uint16_t d16 = F32ToF16(d);
  std::memcpy(out, &d16, 2);
  auto* q = reinterpret_cast<int8_t*>(out + 2);
  for (size_t i = 0; i < kQ8_0BlockSize; ++i) q[i] = d == 0.0f ? 0 : static_cast<int8_t>(std::round(x[i] / d));
}

}  // namespace

void EncodeGgmlRow(GgmlType type, const float* x, size_t n, uint8_t* out) {
  switch (type) {
    case GgmlType::kF32:
      std::memcpy(out, x, 4 * n);
      return;
    case GgmlType::kF16:
      for (size_t i = 0; i < n; ++i) Store16(out, i, F32ToF16(x[i]));
      return;
    case GgmlType::kBF16:
      for (size_t i = 0; i < n; ++i) Store16(out, i, F32ToBf16(x[i]));
      return;
    case GgmlType::kQ8_0:
      KVLAB_CHECK(n % kQ8_0BlockSize == 0);
      for (size_t b = 0; b < n / kQ8_0BlockSize; ++b) EncodeQ8_0Block(x + b * kQ8_0BlockSize, out + b * kQ8_0BlockBytes);
      return;
  }
}

}  // namespace kvlab
